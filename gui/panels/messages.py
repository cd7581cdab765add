"""`QtMessages`: every message and error reported through the global message bridge."""

from __future__ import annotations

import time

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from gui.bridge.messages import Message, message_bridge
from gui.context import AppContext
from gui.panels.registry import register_panel
from gui.plain import plain_tooltip, printable

MAX_ITEMS = 500


@register_panel("messages", "Messages", area="right", order=90, shortcut="Ctrl+4", height=110)
class QtMessages(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.list = QListWidget()
        self.list.setWordWrap(True)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.list.clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addWidget(clear)
        message_bridge().message.connect(self.add)

    def add(self, msg: Message) -> None:
        text = printable(msg.text)
        item = QListWidgetItem(f"{time.strftime('%H:%M:%S')}  {msg.level}: {text}")
        if msg.detail:
            item.setToolTip(plain_tooltip(msg.detail[-4000:]))
        if msg.level != "info":
            item.setForeground(QColor(self.ctx.theme.color(msg.level)))
        self.list.addItem(item)
        while self.list.count() > MAX_ITEMS:
            self.list.takeItem(0)
        self.list.scrollToBottom()

    def texts(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]
