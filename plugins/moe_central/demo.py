"""Connect a school of a Licheng database to a running simulator: `licheng central-sim --connect-school CODE`.

For the demo (`licheng demo` seeds school 353301): make a school key pair in the
simulator's data directory, trust its public half, and set the moe_central
plugin for that school (available, enabled by its bureau, endpoint and keys),
all through the plugin service functions, audited as the system. The demo
server reads plugin settings per call, so it submits through the simulator
without a restart.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from typing import Any

from moe_central.crypto import generate_rsa_keypair


async def connect_school(
    school_code: str, *, endpoint: str, central_public_pem: bytes, data_dir: Path, settings: Any | None = None
) -> bytes:
    """Configure moe_central for the school; returns the school's public key PEM for the simulator to trust."""
    from licheng import db
    from licheng.errors import NotFound
    from licheng.plugins import configs, manager as plugin_manager, runtime, service
    from licheng.settings import Settings
    from licheng.tenants.actor import system_actor
    from licheng.tenants.models import School

    settings = settings or Settings()
    private_file, public_file = data_dir / f"school_{school_code}.pem", data_dir / f"school_{school_code}_public.pem"
    if not private_file.exists():
        private, public = generate_rsa_keypair()
        private_file.write_bytes(private)
        private_file.chmod(0o600)
        public_file.write_bytes(public)
    await db.init_db(settings)
    try:
        school = await School.get_or_none(code=school_code)
        if school is None:
            raise NotFound("school", "學校")
        manager = plugin_manager.configure(settings)
        actor = system_actor(None)  # the platform, acting for the operator who runs this command
        await service.set_available(actor, manager, "moe_central", True)
        await service.set_enabled(actor, manager, school.bureau_id, "moe_central", enabled=True, school_ids=[school.id])
        values = {"endpoint_url": endpoint, "central_public_key": central_public_pem.decode(),
                  "school_private_key": private_file.read_text(encoding="ascii")}  # fmt: skip
        await configs.update_settings(actor, manager, "moe_central", values, school_id=school.id)
        runtime.install()
    finally:
        await db.close_db()
    return public_file.read_bytes()


def start_for_demo(settings: Any, school_codes: list[str]) -> str:
    """`licheng demo`: run the simulator in this process on 127.0.0.1 and point the demo schools at it.

    The simulator keeps its key and packages under ``<data dir>/central-sim``; the
    demo server's in-process jobs then deliver submissions to it, so a demo
    school's batch goes all the way to receipts on a bare machine.
    """
    import uvicorn

    from moe_central.simulator import create_app

    data_dir = Path(settings.data_dir) / "central-sim"
    data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(data_dir, key_bits=2048)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    for code in school_codes:
        public = asyncio.run(connect_school(code, endpoint=endpoint, central_public_pem=app.state.central.public_key,
                                            data_dir=data_dir, settings=settings))  # fmt: skip
        app.state.central.store.set_school_key(code, public.decode())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, name="central-sim", daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    schools = ", ".join(school_codes)
    return f"Central DB simulator (中央資料庫模擬器): {endpoint}  (school {schools} submits there; faults: POST {endpoint}/_faults)"
