"""The engine: games, objective terms, the step machinery, the run state, the mesh. Takes arrays only."""
