"""The engines the vision code runs on: TensorFlow/Keras, TFLite and ONNX Runtime.

Nothing here runs at import time. TensorFlow's start-up chatter is silenced only when
:func:`import_tensorflow` is first called, and only for that import; ONNX Runtime's
logging is set per session, never for the whole process.
"""
from __future__ import annotations

import os
import sys
import warnings

from kit.errors import MissingDependency, ModelError


def import_tensorflow():
    """Import TensorFlow without its start-up banner in lessons and apps.

    The banner (oneDNN notes, absl lines) is written by C++ straight to file descriptor
    2 before any Python log level applies, so the descriptor is pointed at /dev/null for
    the duration of the import. Real errors still raise.
    """
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    tensorflow = sys.modules["tensorflow"]
    # "triggered tf.function retracing" advice about TensorFlow internals would fill the
    # lessons whenever several models train in one kernel; errors still raise.
    tensorflow.get_logger().setLevel("ERROR")
    return tensorflow


def _quiet_fd2(fn, *args, **kwargs):
    """Run ``fn`` with file descriptor 2 silenced (TFLite prints its XNNPACK notice there)."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        return fn(*args, **kwargs)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def lite_interpreter(path, threads: int | None = None):
    """A TFLite interpreter (XNNPACK on CPU) for ``path``, tensors allocated.

    Without TensorFlow's notice that ``tf.lite.Interpreter`` moves to another package and
    without the "Created TensorFlow Lite XNNPACK delegate" line it prints on stderr.
    """
    tf = import_tensorflow()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*Warning: tf\.lite\.Interpreter is deprecated")
        interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=threads or os.cpu_count())
    _quiet_fd2(interpreter.allocate_tensors)
    return interpreter


def onnx_session(model: bytes | str, threads: int | None = None):
    """An ONNX Runtime CPU session for a model file or its bytes, with its warnings kept quiet."""
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependency("this face detector needs onnxruntime: pip install onnxruntime "
                                "(it is a dependency of the kit; reinstall with pip install -e .)") from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: the old exports warn about every BatchNorm counter
    options.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

    refused = tuple(getattr(ort_errors, n) for n in ("Fail", "InvalidGraph", "InvalidArgument", "NoSuchFile",
                                                       "InvalidProtobuf", "RuntimeException", "NotImplemented")
                    if hasattr(ort_errors, n))
    try:
        return onnxruntime.InferenceSession(model if isinstance(model, bytes) else str(model), options,
                                            providers=["CPUExecutionProvider"])
    except refused as exc:  # ONNX Runtime's own exception classes derive from Exception only
        what = "the ONNX model" if isinstance(model, bytes) else str(model)
        raise ModelError(f"{what}: ONNX Runtime cannot run it ({type(exc).__name__}: {str(exc)[:160]})") from None


STREAM_NICENESS = 10  # CPU share of a busy stream against a session still starting: about 1 to 10


def yield_cpu_to_starting_sessions(niceness: int = STREAM_NICENESS) -> bool:
    """Lower this process's CPU priority (every thread of it and, under autogroup
    scheduling, its scheduling group) to ``niceness``.

    A kernel answering camera frames uses all the CPU it gets. When several visitors use
    an app, the kernels already streaming starved the one a new visitor had just opened:
    on two cores with nine sessions streaming, the tenth visitor waited 49-55 s for the
    app to appear (and in 2 of 6 runs one session never appeared or never got an answer).
    With the streaming kernels lowered, the tenth app appears within 12-17 s and every session
    still answers 1.5-1.8 frames per second (``tests/test_browser_mask_detector.py``
    reports both). A lowered kernel still gets the CPU whenever nobody else needs it.
    Priority is only ever lowered, which needs no privileges. Returns whether it was.
    """
    if not hasattr(os, "setpriority"):  # Windows: left as it is
        return False
    tasks = "/proc/self/task"
    threads = [int(t) for t in os.listdir(tasks)] if os.path.isdir(tasks) else [0]
    lowered = False
    for thread in threads:
        try:
            if os.getpriority(os.PRIO_PROCESS, thread) < niceness:
                os.setpriority(os.PRIO_PROCESS, thread, niceness)
                lowered = True
        except OSError:  # a thread that ended meanwhile, or a platform that refuses
            continue
    # With autogroup scheduling (the Linux default on desktops and many servers) each
    # session competes as one group whatever its threads' nice values, and Jupyter starts
    # every kernel in a session of its own: the group's own nice value is what counts. Only
    # a process leading its session changes it, so a script started from a terminal never
    # lowers the terminal's other programs.
    group = "/proc/self/autogroup"
    if os.path.isfile(group) and os.getsid(0) == os.getpid():
        try:
            with open(group) as f:
                current = int(f.read().split("nice")[-1])
            if current < niceness:
                with open(group, "w") as f:
                    f.write(str(niceness))
                lowered = True
        except (OSError, ValueError):
            pass
    return lowered
