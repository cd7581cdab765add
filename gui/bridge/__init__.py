"""The one bridge from engine generators and threads to Qt: workers and the message path."""

from gui.bridge.messages import MessageBridge, install_excepthooks, message_bridge, report
from gui.bridge.worker import TaskState, Worker, WorkerPool

__all__ = [
    "MessageBridge",
    "TaskState",
    "Worker",
    "WorkerPool",
    "install_excepthooks",
    "message_bridge",
    "report",
]
