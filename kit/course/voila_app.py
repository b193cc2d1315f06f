"""Voila as ``kit serve`` runs it: the offline template, and the Host header checked.

Voila 0.5 answers requests whatever their ``Host`` header says (it sets
``allow_remote_access`` itself), so a web page on another site can reach a Voila on
this machine's loopback through a DNS name that resolves to 127.0.0.1 (DNS rebinding) and
start kernels. Here the check of Jupyter Server applies: served on a loopback address,
only loopback hosts (``localhost``, 127.0.0.1, ::1 and ``--KitVoila.local_hostnames``)
are answered; served to a room (``kit serve --ip 0.0.0.0``) remote hosts are allowed,
and the token guards the door. Preheated kernels waiting for a visitor are not culled
(:class:`PoolAwareKernelManager`).

Run as ``python -m kit.course.voila_app`` with Voila's own options.
"""
from __future__ import annotations

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Bool, List, Unicode
from voila.app import Voila


class PoolAwareKernelManager(AsyncMappingKernelManager):
    """Idle kernels are culled as usual, except Voila's preheated ones waiting in its pool
    (``kit serve --preheat``): they have no visitor yet, so the culler took them for
    abandoned ones and the pool handed the next visitors kernels that no longer existed."""

    def _pooled(self, kernel_id: str) -> bool:
        for pool in getattr(self, "_pools", {}).values():  # Voila's pool: tasks that end with the kernel's id
            for item in pool:
                if item.done() and not item.cancelled() and item.exception() is None \
                        and item.result().get("kernel_id") == kernel_id:
                    return True
        return False

    async def cull_kernel_if_idle(self, kernel_id):
        if self._pooled(kernel_id):
            return None
        return await super().cull_kernel_if_idle(kernel_id)


class KitVoila(Voila):
    """Voila with Jupyter Server's Host-header check switched back on."""

    name = "voila"
    allow_remote_access = Bool(False, config=True,
                               help="Answer requests whose Host header is not a loopback name or address.")
    local_hostnames = List(Unicode(), ["localhost"], config=True,
                           help="Host names (besides loopback addresses) answered without allow_remote_access.")

    def init_settings(self):
        settings = super().init_settings()
        settings["allow_remote_access"] = bool(self.allow_remote_access)
        settings["local_hostnames"] = list(self.local_hostnames)
        return settings


main = KitVoila.launch_instance

if __name__ == "__main__":
    main()
