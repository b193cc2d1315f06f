"""Computer vision for the mask course: face detectors, mask classifiers, the
detection pipeline and its statistics."""
import os as _os
import warnings as _warnings

# TensorFlow's C++ start-up chatter (oneDNN notes, absl banners) would show up in
# every lesson and in the Voila apps; real errors still raise.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
_warnings.filterwarnings("ignore", message=r"\s*Warning: tf\.lite\.Interpreter is deprecated")


def import_tensorflow():
    """Import TensorFlow with its start-up banner (written straight to file descriptor 2
    by C++ before any log level applies) kept out of lessons and apps."""
    import sys

    if "tensorflow" in sys.modules:
        return _quiet(sys.modules["tensorflow"])
    saved, devnull = _os.dup(2), _os.open(_os.devnull, _os.O_WRONLY)
    try:
        _os.dup2(devnull, 2)
        import tensorflow
    finally:
        _os.dup2(saved, 2)
        _os.close(saved)
        _os.close(devnull)
    return _quiet(tensorflow)


def lite_interpreter(path, threads: int | None = None):
    """A TFLite interpreter (XNNPACK on CPU) for ``path``, without TensorFlow's notice that
    ``tf.lite.Interpreter`` moves to another package (the CLI shows every UserWarning)."""
    tf = import_tensorflow()
    with _warnings.catch_warnings():
        _warnings.filterwarnings("ignore", message=r"\s*Warning: tf\.lite\.Interpreter is deprecated")
        return tf.lite.Interpreter(model_path=str(path), num_threads=threads or _os.cpu_count())


def _quiet(tensorflow):
    # "triggered tf.function retracing" advice about TensorFlow internals would fill the
    # lessons whenever several models train in one kernel; errors still raise.
    tensorflow.get_logger().setLevel("ERROR")
    return tensorflow
