"""`licheng central-sim`: run the central-database simulator on this machine.

    licheng central-sim --port 8765 --data-dir ./central --school-key 123456=school_public.pem

It keeps its RSA key in the data directory (made on first start) and writes the
public half to ``central_public.pem`` there: paste that into the moe_central
plugin's ``central_public_key`` setting, or let ``--connect-school CODE`` set
the plugin up for a school of the Licheng database (the demo's is 353301).
See docs/central.md, "Simulator and faults".
"""

from __future__ import annotations

from pathlib import Path

import click


def _school_keys(values: tuple[str, ...]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for value in values:
        code, sep, path = value.partition("=")
        if not sep or len(code) != 6 or not code.isalnum():
            raise click.BadParameter(f"expected CODE=PEMFILE with a 6-character school code: {value!r}", param_hint="--school-key")
        try:
            keys[code] = Path(path).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as error:
            raise click.BadParameter(f"cannot read {path}: {type(error).__name__}", param_hint="--school-key") from None
    return keys


@click.command("central-sim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
@click.option("--data-dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Packages, state and the simulator's key.")
@click.option("--school-key", "school_keys", multiple=True, metavar="CODE=PEMFILE", help="A school's public signing key (repeatable).")
@click.option("--api-key", envvar="CENTRAL_SIM_API_KEY", default=None, help="Require this bearer token (env CENTRAL_SIM_API_KEY).")
@click.option("--admin-token", envvar="CENTRAL_SIM_ADMIN_TOKEN", default=None, help="Require X-Admin-Token on /_faults, /_schools, /_state.")
@click.option("--process-delay", default=0.0, show_default=True, type=click.FloatRange(0, 3600), help="Seconds a package stays 'processing'.")
@click.option("--key-bits", default=3072, show_default=True, type=click.Choice(["2048", "3072", "4096"]), help="Size of a new key.")
@click.option("--connect-school", default=None, metavar="CODE",
              help="Also point this school of the Licheng database (LICHENG_* settings) at the simulator, e.g. 353301 for the demo.")
def central_sim(host: str, port: int, data_dir: Path, school_keys: tuple[str, ...], api_key: str | None,
                admin_token: str | None, process_delay: float, key_bits: str, connect_school: str | None) -> None:  # fmt: skip
    """Run the MOE central-database simulator (upload, notify, status, receipts, fault injection)."""
    import uvicorn

    from moe_central.simulator import create_app

    app = create_app(data_dir, api_key=api_key, admin_token=admin_token, process_delay=process_delay,
                     key_bits=int(key_bits), school_keys=_school_keys(school_keys))  # fmt: skip
    public = data_dir / "central_public.pem"
    public.write_bytes(app.state.central.public_key)
    if connect_school:
        import asyncio

        from licheng.errors import LichengError
        from moe_central.demo import connect_school as connect

        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
        try:
            school_public = asyncio.run(connect(connect_school, endpoint=url, central_public_pem=app.state.central.public_key,
                                                data_dir=data_dir))  # fmt: skip
        except LichengError as error:
            raise click.ClickException(f"{error.code}: {error.message_en}") from None
        app.state.central.store.set_school_key(connect_school, school_public.decode())
        click.echo(f"school {connect_school} now submits to {url}", err=True)
    click.echo(f"central-sim on http://{host}:{port} (public key: {public})", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
