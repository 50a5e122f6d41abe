"""``simsip pcap FILE -o out.pcapng``: one run as a capture for Wireshark, tshark and sngrep."""

from __future__ import annotations

import io

import click

from simsip.cli import fail, main
from simsip.cli.ladder import run_options, traced_run, write_output


@main.command("pcap")
@click.argument("file", type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="The pcapng file to write (atomically).")
@run_options
def pcap_command(file: str, output: str, run: int, seed: int, params: tuple[str, ...], until: str | None) -> None:
    """Export one run of FILE as pcapng: every transmission a real Ethernet/IPv4/UDP-or-TCP packet."""
    from simsip.viz.pcap import write_pcapng

    traced = traced_run(file, run, seed, params, until)
    buffer = io.BytesIO()
    try:
        frames = write_pcapng(traced.trace, buffer, nodes=traced.nodes, addresses=traced.addresses, run=run)
    except ValueError as exc:
        raise fail(f"{file}: {exc}") from None
    write_output(output, buffer.getvalue(), "the capture")
    sip = sum(1 for f in frames if f.transmission is not None)
    click.echo(f"wrote {sip} SIP messages ({len(frames)} packets) of run {run} to {output}", err=True)
