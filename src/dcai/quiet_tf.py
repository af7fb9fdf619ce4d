"""Keep TensorFlow's start-up chatter out of the user's way, and nothing else.

TensorFlow 2.21 writes its oneDNN notice and CPU-feature lines from C++ before its logging is
set up, so TF_CPP_MIN_LOG_LEVEL does not silence them, and its retracing warnings come through
Python logging. `install()` puts a finder on sys.meta_path that imports tensorflow with the
process's stderr (file descriptor 2) caught, then writes back every line that is not known
chatter: a real error while importing still reaches the user.
"""
import importlib.abc
import os
import re
import sys
import tempfile

CHATTER = re.compile(r"oneDNN custom operations are on|All log messages before absl::InitializeLog"
                     r"|cpu_feature_guard|This TensorFlow binary is optimized|To enable the following instructions"
                     r"|rebuild TensorFlow with the appropriate compiler flags|Unable to register cu(DNN|FFT|BLAS)"
                     r"|could not find cuda drivers|computation placer already registered|TF-TRT Warning")


def without_chatter(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not CHATTER.search(line))


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as caught:
            os.dup2(caught.fileno(), 2)
            try:
                self.loader.exec_module(module)
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                caught.seek(0)
                sys.stderr.write(without_chatter(caught.read().decode("utf-8", errors="replace")))
                sys.stderr.flush()
        # "N out of the last M calls to <function> triggered tf.function retracing": tuning advice
        # for library authors, printed through Python logging
        module.get_logger().setLevel("ERROR")


class _QuietFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


def install() -> None:
    """Make a later `import tensorflow` quiet (no effect once tensorflow is imported, or when
    DCAI_TF_CHATTER=1 asks for everything)."""
    if os.environ.get("DCAI_TF_CHATTER") == "1" or "tensorflow" in sys.modules:
        return
    if not any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())
