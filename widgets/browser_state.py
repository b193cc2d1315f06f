"""What a widget accepts from the browser.

A browser can send any synced value back (a visitor's developer tools, a forged
message). Values only the kernel computes — counts, results, errors, the lists a page
chooses from — are never taken from it; they are dropped and counted. Everything else
goes through the traits' own validation.
"""
from __future__ import annotations


class KernelOutputs:
    """Mixin for widgets: names in ``KERNEL_OUTPUTS`` cannot be set from the browser."""

    KERNEL_OUTPUTS: frozenset = frozenset()

    def set_state(self, sync_data):
        refused = [k for k in sync_data if k in self.KERNEL_OUTPUTS]
        if refused:
            self.refused_updates = getattr(self, "refused_updates", 0) + len(refused)
            sync_data = {k: v for k, v in sync_data.items() if k not in self.KERNEL_OUTPUTS}
        super().set_state(sync_data)
