"""Starting and stopping the server inside a running event loop (the CLI, the tests and the bench share this)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web

from talkzoo.serve.app import STATE, ServerState, create_app
from talkzoo.serve.config import ServeConfig
from talkzoo.serve.engines import RemoteFactory
from talkzoo.serve.factory import AvatarFactory


@dataclass
class RunningServer:
    runner: web.AppRunner
    app: web.Application
    port: int
    config: ServeConfig

    @property
    def state(self) -> ServerState:
        return self.app[STATE]

    def url(self, host: str | None = None) -> str:
        """The page's URL (with ?token=... when the server has one)."""
        host = host or ("127.0.0.1" if self.config.host in ("0.0.0.0", "::") else self.config.host)
        shown = f"[{host}]" if ":" in host else host
        query = f"?token={quote(self.config.token)}" if self.config.token else ""
        return f"http://{shown}:{self.port}/{query}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_server(factory: AvatarFactory | RemoteFactory, config: ServeConfig) -> RunningServer:
    """Bind config.host:config.port (port 0: any free port) and serve; returns the running server."""
    runner = web.AppRunner(create_app(factory, config), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else config.port
    return RunningServer(runner, runner.app, int(port), config)


async def run_forever(factory: AvatarFactory | RemoteFactory, config: ServeConfig) -> None:
    server = await start_server(factory, config)
    print(f"serving {factory.info.method} on {server.url()}", flush=True)
    if config.token:
        print(f"token: {config.token} (the page needs it: open the URL above)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
