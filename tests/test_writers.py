"""Progress on the console and the JSONL log: writers.py."""

import io
import json

from jaxgan import writers


def test_the_plain_progress_line_has_the_rates_and_the_eta():
    line = writers.progress_line(400, 1000, {'d_loss': 1.25, 'g_loss': 0.5, 'steps_per_s': 2.0,
                                             'images_per_s': 256.0})
    assert line == 'step 400/1000 | d_loss 1.25 g_loss 0.5 | 2.00 steps/s, 256 img/s | ETA 0:05:00'
    assert writers.progress_line(1, 10, {'d_loss': 1.0}) == 'step 1/10 | d_loss 1'  # no rate yet: no ETA
    assert writers.duration(2 * 86400 + 3723) == '2 days, 1:02:03'


def test_a_live_bar_only_on_a_terminal_and_process_0():
    assert writers.live_progress(isatty=True, is_chief=True)
    assert not writers.live_progress(isatty=False, is_chief=True)  # a log file, CI: plain lines
    assert not writers.live_progress(isatty=True, is_chief=False)


def test_the_live_bar_shows_steps_per_second_images_per_second_and_eta():
    stream = io.StringIO()
    bar = writers.ProgressBar(10, 100, batch_size=64, stream=stream)
    for step in range(11, 31):
        bar.update(step)
    bar.show({'d_loss': 1.5, 'g_loss': 0.75, 'steps_per_s': 3.0})
    bar.close()
    last = stream.getvalue().split('\r')[-1]
    assert '30/100 [' in last and 'step/s' in last and 'img/s' in last and '<' in last  # tqdm: [elapsed<ETA, rate]
    assert 'd_loss 1.5, g_loss 0.75' in last


def test_rows_after_a_step_are_moved_aside_in_order(tmp_path):
    path, aside = tmp_path / 'metrics.jsonl', tmp_path / 'rewound' / 'metrics.jsonl'
    rows = [{'step': s, 'd_loss': 1.0} for s in (2, 4, 6, 8)]
    path.write_text(''.join(json.dumps(r) + '\n' for r in rows) + '{"step": 9, "d_')  # a torn last line
    assert writers.move_rows_after(str(path), 4, str(aside)) == 3
    assert [json.loads(line) for line in path.read_text().splitlines()] == rows[:2]
    assert aside.read_text().splitlines() == [json.dumps(rows[2]), json.dumps(rows[3]), '{"step": 9, "d_']
    assert writers.move_rows_after(str(path), 4, str(aside)) == 0  # nothing left to move
    assert writers.row_step(json.dumps({'metrics': {}, 'protocol': {'step': 7}})) == 7  # eval/history.jsonl
