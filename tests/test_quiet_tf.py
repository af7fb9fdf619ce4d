"""TensorFlow's start-up chatter is kept out of the user's way; anything else it writes is not."""
import os
import subprocess
import sys

from conftest import REPO

FAKE_TENSORFLOW = '''
import logging, os
os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on. You may see slightly different results\\n")
os.write(2, b"E0000 something is really wrong\\n")
def get_logger():
    return logging.getLogger("tensorflow")
'''


def import_fake_tensorflow(tmp_path, **env):
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow/__init__.py").write_text(FAKE_TENSORFLOW)
    code = "import dcai, tensorflow, logging; print(logging.getLogger('tensorflow').level)"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO / 'src'}", **env})


def test_the_start_up_notices_are_dropped_and_real_messages_kept(tmp_path):
    done = import_fake_tensorflow(tmp_path, DCAI_TF_CHATTER="")
    assert "oneDNN" not in done.stderr and "absl::InitializeLog" not in done.stderr
    assert "something is really wrong" in done.stderr
    assert done.stdout.strip() == "40"  # retracing warnings (Python logging) silenced: ERROR and above


def test_everything_is_shown_when_asked(tmp_path):
    done = import_fake_tensorflow(tmp_path, DCAI_TF_CHATTER="1")
    assert "oneDNN custom operations are on" in done.stderr and "something is really wrong" in done.stderr
