"""Experiments: one module each, a config and a few lines that call the library.

    python -m experiments.NAME --workdir=DIR --config.FIELD=VALUE
    python -m jaxgan.main --experiment=NAME ...   (the same)
"""
