"""Progress output as Keras prints it: a live bar on a terminal; off a terminal (a pipe, a file,
a captured stream) one line per epoch and at most one final line for predict/evaluate/extract,
never a carriage return; nothing at verbose=0."""
import io
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from foveal import nn, utils
from foveal.nn import _progress

EPOCH_LINE = re.compile(r"^Epoch (\d+)/(\d+) - \d+\.\ds - loss: \d+\.\d{4} - accuracy: \d\.\d{4}"
                        r" - val_loss: \d+\.\d{4} - val_accuracy: \d\.\d{4}$")
FINAL_LINE = re.compile(r"^(Predict|Evaluate|Extract): (\d+)/(\d+) - \d+\.\ds - \d+ms/step$")

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from foveal import nn, utils

    utils.set_random_seed(0)
    x = np.random.default_rng(0).random((40, 6, 6, 1), dtype=np.float32)
    y = np.arange(40) % 2
    model = nn.Sequential([nn.Input((6, 6, 1)), nn.Conv2D(4, 3, activation="relu"), nn.Flatten(),
                           nn.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    mode = sys.argv[1]
    if mode == "fit1":
        model.fit(x, y, batch_size=4, epochs=4, validation_split=0.2, verbose=1)
    elif mode == "fit_auto":
        model.fit(x, y, batch_size=4, epochs=3, validation_split=0.2)
    elif mode == "fit2":
        model.fit(x, y, batch_size=4, epochs=3, validation_split=0.2, verbose=2)
    elif mode == "inference":
        model.predict(x, batch_size=8, verbose=1)
        model.evaluate(x, y, batch_size=8)
    elif mode == "quiet":
        model.fit(x, y, batch_size=4, epochs=2, validation_split=0.2, verbose=0)
        model.predict(x, verbose=0)
        model.evaluate(x, y, verbose=0)
        model.predict(x, verbose=2)
""")


def run_child(mode):
    """The child's raw stdout bytes, stdout being a pipe (not a terminal)."""
    res = subprocess.run([sys.executable, "-c", CHILD, mode], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=180)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert b"\r" not in res.stderr
    return res.stdout


@pytest.mark.parametrize("mode,epochs", [("fit1", 4), ("fit_auto", 3), ("fit2", 3)])
def test_fit_off_a_terminal_prints_one_line_per_epoch(mode, epochs):
    out = run_child(mode)
    assert b"\r" not in out
    lines = out.decode().splitlines()
    assert len(lines) == epochs, lines
    for k, line in enumerate(lines, start=1):
        m = EPOCH_LINE.match(line)
        assert m is not None, line
        assert (int(m.group(1)), int(m.group(2))) == (k, epochs)


def test_predict_and_evaluate_off_a_terminal_print_one_final_line_each():
    out = run_child("inference")
    assert b"\r" not in out
    lines = out.decode().splitlines()
    assert len(lines) == 2, lines
    for line, title in zip(lines, ("Predict", "Evaluate")):
        m = FINAL_LINE.match(line)
        assert m is not None and m.group(1) == title and m.group(2) == m.group(3) == "5", line


def test_verbose_0_is_silent():
    assert run_child("quiet") == b""


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal, as a console does."""

    def isatty(self):
        return True


def small_model():
    utils.set_random_seed(0)
    model = nn.Sequential([nn.Input((4,)), nn.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    x = np.random.default_rng(1).random((32, 4), dtype=np.float32)
    return model, x, np.arange(32) % 3


def test_on_a_terminal_verbose_1_draws_a_live_bar(monkeypatch):
    model, x, y = small_model()
    term = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", term)
    model.fit(x, y, batch_size=4, epochs=2, verbose=1)
    text = term.getvalue()
    assert "\r" in text                                         # the bar redraws in place
    assert "Epoch 1/2" in text and "Epoch 2/2" in text and "8/8" in text
    assert "loss: " in text and "accuracy: " in text
    term.seek(0)
    term.truncate()
    model.predict(x, batch_size=8, verbose=1)
    assert "\r" in term.getvalue() and "Predict" in term.getvalue() and "4/4" in term.getvalue()


def test_on_a_terminal_verbose_2_still_prints_lines(monkeypatch):
    model, x, y = small_model()
    term = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", term)
    model.fit(x, y, batch_size=4, epochs=3, verbose=2)
    lines = term.getvalue().splitlines()
    assert "\r" not in term.getvalue() and len(lines) == 3
    assert all(re.match(r"^Epoch \d/3 - \d+\.\ds - loss: \d\.\d{4} - accuracy: \d\.\d{4}$", l)
               for l in lines), lines


def test_is_terminal_of_odd_streams():
    class NoIsatty:
        def write(self, s):
            return len(s)

    closed = io.StringIO()
    closed.close()
    assert not _progress.is_terminal(io.StringIO())
    assert not _progress.is_terminal(NoIsatty())
    assert not _progress.is_terminal(closed)
    assert _progress.is_terminal(FakeTerminal())


def test_final_line_only_after_every_step(capsys):
    done = _progress.bar(3, "Extract")
    assert isinstance(done, _progress.FinalLine)                # capsys' stream is not a terminal
    for _ in range(3):
        done.update(1)
    done.close()
    done.close()                                                # closing twice prints once
    cut = _progress.bar(3, "Extract")
    cut.update(1)
    cut.close()                                                 # an interrupted pass: no line
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and FINAL_LINE.match(lines[0]), lines


def test_extract_off_a_terminal_prints_one_line(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from foveal.transfer import OnnxBackbone

    utils.set_random_seed(0)
    model = nn.Sequential([nn.Input((8, 8, 3)), nn.Conv2D(4, 3, activation="relu"),
                           nn.GlobalAveragePooling2D()])
    path = str(tmp_path / "m.onnx")
    model.export_onnx(path)
    backbone = OnnxBackbone(path, preprocess="none", batch_size=4)
    capsys.readouterr()
    feats = backbone.extract(np.random.default_rng(2).random((10, 8, 8, 3)) * 255, verbose=1)
    assert feats.shape == (10, 4)
    out = capsys.readouterr().out
    assert "\r" not in out
    lines = out.splitlines()
    assert len(lines) == 1 and FINAL_LINE.match(lines[0]) and lines[0].startswith("Extract: 3/3")
    backbone.extract(np.zeros((2, 8, 8, 3)), verbose=0)
    assert capsys.readouterr().out == ""


def run_on_pty(columns):
    """The child's output (``fit1``) read from a pseudo-terminal ``columns`` wide (0: a bare
    one that reports no size). The terminal itself turns each "\\n" into "\\r\\n"."""
    pty = pytest.importorskip("pty")
    import fcntl
    import os
    import struct
    import termios

    master, slave = pty.openpty()
    if columns:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, "fit1"], stdout=slave,
                            stderr=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:   # the child closed its end
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=180) == 0
    return out.decode()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_a_real_terminal_gets_the_live_bar_and_a_sizeless_one_lines():
    live = run_on_pty(200)
    assert "\rEpoch 1/4:" in live and "\rEpoch 4/4:" in live and "100%" in live
    assert "val_accuracy: " in live                             # the epoch's logs end the bar
    lines = run_on_pty(0).replace("\r\n", "\n")
    assert "\r" not in lines
    assert [l.split(" - ")[0] for l in lines.splitlines()] == [f"Epoch {k}/4" for k in range(1, 5)]
