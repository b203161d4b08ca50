"""The daemon: builds every part from the config, runs them on one loop, stops cleanly.

SIGTERM/SIGINT: stop accepting, let SMTP transactions in flight finish, let the workers
finish what they hold, exit. SIGHUP: re-read the config and apply what can change live.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from listfed.addresses import Resolution, resolve
from listfed.archive.topk.feed import Feeder
from listfed.bridges.watchers import Timing, Watchers
from listfed.config import Config, WebConfig
from listfed.context import node_settings
from listfed.courier.build import deliverer
from listfed.courier.supervisor import PipelineProcess
from listfed.db import intakefile, listrows
from listfed.db.checkpoint import Checkpointer
from listfed.db.engine import Database
from listfed.delivery.worker import Deliverer
from listfed.dispatch import Dispatcher
from listfed.dns import txt_lookup
from listfed.errors import ListfedError
from listfed.federation.check import check as check_routes
from listfed.federation.check import lists_in
from listfed.housekeeping import Housekeeper
from listfed.intake import IntakeHandler
from listfed.mailauth import prechecks, signer, signers
from listfed.migrations import upgrade
from listfed.ops.node import node_secret, secret_path
from listfed.smtpsession import Limits, session_class
from listfed.spool import FileSpool, Spool
from listfed.tally import Tally
from listfed.web.supervisor import WebFace

log = logging.getLogger("listfed.service")


def database_path(config: Config) -> Path:
    return config.node.data_dir / "listfed.db"


class Node:
    """One running listfed node."""

    def __init__(
        self,
        config: Config,
        clock: Callable[[], float] = time.time,
        imap_timing: Timing | None = None,
    ) -> None:
        self.config = config
        config.node.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(database_path(config), config.storage.busy_timeout, checkpoints=False)
        self.checkpointer = Checkpointer(database_path(config), config.storage.busy_timeout)
        self.secret = node_secret(config)
        self.stop_event = asyncio.Event()
        self.clock = clock
        dnsfunc = txt_lookup(config.dns.nameservers, config.dns.timeout)
        self.signer = signer(config, dnsfunc)
        intake_file = intakefile.path_of(database_path(config))
        # The pipeline and delivery run on this loop, or in a child process ([node] processes)
        self.deliverer: Deliverer | None = None
        self.pipeline: PipelineProcess | None = None
        if config.node.processes == 2:
            self.pipeline = PipelineProcess(config, self.secret, database_path(config))
            wake_delivery = self.pipeline.wake
        else:
            self.deliverer = deliverer(
                config, self.db, lambda: self.dispatcher.node, self.signer, clock
            )
            wake_delivery = self.deliverer.wake.set
        self.dispatcher = Dispatcher(
            self.db,
            node_settings(config, self.secret),
            wake_delivery,
            clock,
            prechecks(config, dnsfunc, sealing=self.signer is not None and config.dkim.arc),
            # what a run with the pipeline in the child left in intake's file, if any
            intake=intake_file if intake_file.exists() else None,
        )
        self.housekeeper = Housekeeper(self.db, lambda: self.dispatcher.node, wake_delivery, clock)
        # Intake commits to the database, or to a file of its own if the pass is the
        # child's; a file left by such a run is emptied as the pass takes from it.
        self.intake_file = (
            FileSpool(intake_file, config.storage.busy_timeout)
            if config.node.processes == 2 or intake_file.exists()
            else None
        )
        self.spool: Spool | FileSpool = (
            self.intake_file if self.intake_file and config.node.processes == 2 else Spool(self.db)
        )
        self.bridges = Watchers(
            self.db,
            lambda: self.dispatcher.node,
            lambda _count: self.wake_pass(),
            imap_timing,
            clock,
            signers(dnsfunc),
        )
        self.handler = IntakeHandler(
            self._resolve,
            self.spool.store,
            self.wake_pass,
            config.smtp.lmtp,
            clock,
            config.smtp.max_recipients,
            config.node.name,
            Tally(clock),
        )
        self.sessions: set[Any] = set()
        self.server: asyncio.Server | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self._checks: set[asyncio.Task[None]] = set()
        web = config.web
        self.web = (
            WebFace(
                web.host,
                web.port,
                database_path(config),
                config.storage.busy_timeout,
                config.node.base_url,
                secret_file=secret_path(config),
                config_file=config.path,
                read_settings=_web_settings(config),
                workers=web.processes(),
            )
            if web.enabled
            else None
        )

    def wake_pass(self) -> None:
        """New queue items: the pipeline's pass, here or in the child, takes them."""
        if self.pipeline is not None:
            self.pipeline.wake_pass()
        else:
            self.dispatcher.wake.set()

    def _resolve_sync(self, address: str) -> tuple[Resolution, int | None]:
        found: dict[str, int] = {}  # list address -> id, filled while resolving
        with self.db.read_plain() as conn:

            def exists(local: str, domain: str) -> bool:
                list_id = listrows.id_of(conn, local, domain)
                if list_id is not None:
                    found[f"{local}@{domain}"] = list_id
                return list_id is not None

            node = self.dispatcher.node
            res = resolve(address, node.domains, exists, node.bridge_addresses())
        if res.recipient is None:
            return res, None
        return res, found[res.recipient.list_address]

    async def _resolve(self, address: str) -> tuple[Resolution, int | None]:
        if isinstance(self.spool, FileSpool):  # intake's thread: no write stands before it
            return await self.spool.run_first(self._resolve_sync, address)
        return await self.db.run_first(self._resolve_sync, address)  # a sender waits

    async def start(self) -> tuple[str, int]:
        """Upgrade the database, start the workers and listen; returns the bound address."""
        await self.db.run(upgrade, self.db)
        if self.intake_file is not None:  # before intake listens and the child looks for it
            self.intake_file.open()
        await self._check_routes()
        smtp = self.config.smtp
        base = LMTP if smtp.lmtp else SMTP
        limits = Limits(
            smtp.max_connections,
            smtp.max_connections_per_client,
            smtp.timeout,
            smtp.data_timeout,
            smtp.session_timeout,
            smtp.min_data_rate,
        )
        protocol = session_class(base, self.sessions, limits)

        def factory() -> Any:
            return protocol(
                self.handler,
                timeout=limits.command_timeout,
                data_size_limit=smtp.max_message_size,
                enable_SMTPUTF8=False,
                decode_data=False,
                hostname=self.config.node.name,
                ident="listfed",
            )

        loop = asyncio.get_running_loop()
        if self.web is not None:  # bound before anything runs: a taken port stops the start
            self.web.bind()
        try:
            self.server = await loop.create_server(factory, host=smtp.host, port=smtp.port)
        except OSError as exc:
            if self.web is not None:
                self.web.close()
            raise ListfedError(f"cannot listen on {smtp.host}:{smtp.port}: {exc.strerror}") from exc
        self.tasks = [
            asyncio.create_task(self.housekeeper.run(self.stop_event)),
            asyncio.create_task(self.handler.tally.run(self.db, self.stop_event)),
            asyncio.create_task(self.checkpointer.run(self.stop_event)),
        ]
        self.tasks.append(asyncio.create_task(self._feeder().run(self.stop_event)))
        if self.pipeline is not None:  # a child process: the pass and sending take another core
            self.tasks.append(asyncio.create_task(self.pipeline.run(self.stop_event)))
        else:
            self.tasks.append(asyncio.create_task(self.dispatcher.run(self.stop_event)))
        if self.intake_file is not None:
            forgetting = self.intake_file.run_forgetting(self.db, self.stop_event)
            self.tasks.append(asyncio.create_task(forgetting))
        if self.deliverer is not None:
            self.tasks.append(asyncio.create_task(self.deliverer.run(self.stop_event)))
        if self.web is not None:  # a child process: pages never take this loop's time
            self.tasks.append(asyncio.create_task(self.web.run(self.stop_event)))
        self.bridges.apply(self.config.bridges)
        host, port = self.server.sockets[0].getsockname()[:2]
        log.info("listening on %s:%s (%s)", host, port, "LMTP" if smtp.lmtp else "SMTP")
        return host, port

    def _feeder(self) -> Feeder:
        """The ranked search index's writer (archive/topk). It opens the index in its
        task, and again after a failure; meanwhile searches are FTS5's."""
        db = self.db

        def write_plain(fn: Callable[[sqlite3.Connection], None]) -> None:
            with db.write_plain() as conn:
                fn(conn)

        async def write(fn: Callable[[sqlite3.Connection], None]) -> None:
            await db.run(write_plain, fn)

        return Feeder(db.path, self.config.storage.busy_timeout, write)

    async def stop(self, grace: float = 30.0) -> None:
        """Stop accepting, finish SMTP transactions in flight and the workers' batches."""
        self.handler.stopping = True
        if self.server is not None:
            self.server.close()
        deadline = time.monotonic() + grace
        # Sessions end on their own schedule: poll them rather than signal.
        while any(_in_transaction(s) for s in self.sessions) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        self.stop_event.set()
        await self.bridges.stop(max(0.5, min(5.0, deadline - time.monotonic())))
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.intake_file is not None:
            self.intake_file.close()
        self.db.close()
        log.info("stopped")

    def reload(self, config: Config) -> None:
        """Apply a re-read config: routes, peers, bridges, [members], verp, the [node]
        relay settings (hop limit, signature age, accept_v1_signatures), delivery retry
        steps and batch size change live; sessions and queued mail are untouched. The web
        face's child is replaced at once when its settings ([node] base_url, [storage]
        busy_timeout) change; a new [web] listen waits for a restart of serve."""
        if self.deliverer is not None:
            self.deliverer.retry = config.delivery.retry
            self.deliverer.per_transaction = config.delivery.recipients_per_transaction
        if self.pipeline is not None:  # the child reads the new settings: a new child
            self.pipeline.reconfigure(config)
        self.dispatcher.node = node_settings(config, self.secret)
        if config.node.processes != self.config.node.processes:
            log.warning(
                "[node] processes is now %s in the file; serve keeps %s until it is restarted",
                config.node.processes,
                self.config.node.processes,
            )
        self._reload_web(config)
        self.config = config
        self.bridges.apply(config.bridges)
        log.info("configuration reloaded from %s", config.path)
        task = asyncio.get_running_loop().create_task(self._check_routes())
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    def _reload_web(self, config: Config) -> None:
        """Give the web face the settings it can take without rebinding; say in the log
        that a new [web] listen is not one of them."""
        if config.web.workers != self.config.web.workers:
            log.warning(
                "[web] workers is now %s in the file; the web face keeps its %s processes until "
                "serve is restarted",
                config.web.workers or "auto",
                self.config.web.processes(),
            )
        if _listen(config.web) != _listen(self.config.web):
            log.warning(
                "[web] listen is now %s in the file, but the web face stays %s until serve "
                "is restarted: a reload does not rebind its port",
                _listen(config.web),
                _listen(self.config.web),
            )
        if self.web is not None:  # the child logs its own restart
            self.web.reconfigure(
                database_path(self.config),
                config.storage.busy_timeout,
                config.node.base_url,
                _web_settings(config),
            )

    async def _check_routes(self) -> None:
        """Say in the log what `listfed routes check` would call an error."""

        def judge() -> list[str]:
            with self.db.read() as s:
                return check_routes(self.dispatcher.node, lists_in(s)).errors

        try:
            errors = await self.db.run(judge)
        except ListfedError as exc:
            log.warning("cannot check the routes now: %s", exc)
            return
        for error in errors:
            log.warning("%s; it relays nothing until that is fixed", error)

    async def serve(self, reload: Callable[[], Config] | None = None) -> None:
        """Run until SIGTERM or SIGINT."""
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        # Handlers first: a signal that comes while we start (the socket listens one
        # loop turn before start() returns) must stop us cleanly, not interrupt us.
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        if reload is not None:
            loop.add_signal_handler(signal.SIGHUP, self._reload, reload)
        await self.start()
        await stopping.wait()
        log.info("stopping")
        await self.stop()

    def _reload(self, reload: Callable[[], Config]) -> None:
        try:
            self.reload(reload())
        except Exception as exc:  # a broken file must not stop a running node
            log.error("reload failed, keeping the running configuration: %s", exc)


def _listen(web: WebConfig) -> str:
    if not web.enabled:
        return 'off ("")'
    host = f"[{web.host}]" if ":" in web.host else web.host
    return f"on {host}:{web.port}"


def _in_transaction(session: Any) -> bool:
    envelope = getattr(session, "envelope", None)
    return envelope is not None and envelope.mail_from is not None


def _web_settings(config: Config) -> object:
    """What the web face reads from the config file on its own: a change restarts it."""
    asked = tuple((p.name, p.node, p.web) for p in config.peers if p.web)
    web = config.web
    return (web.metrics_from, web.network_deadline, web.search_rate, web.priority, asked)
