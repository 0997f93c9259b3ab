"""The ``skewguard`` command line. Exit codes: 0 success, 1 failure, 2 usage error.

User mistakes get one line on stderr, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from datetime import timedelta

    from .build.compress import Levels
    from .guard import Skewguard
    from .releases import ReleaseRegistry
    from .store.locations import ReleaseLocations
    from .store.publish import PublishReport
    from .telemetry.report import TabsReport
    from .telemetry.retention import LiveRelease

_WARNINGS_SHOWN = 20
_WITH_SIBLINGS_HELP = (
    "Also store the .br/.gz/.zst siblings (for a CDN that picks them by Accept-Encoding); "
    "servers make them from the file otherwise."
)


class _Failure(click.ClickException):
    exit_code = 1

    def show(self, file: object = None) -> None:
        click.echo(f"skewguard: error: {self.format_message()}", err=True)


def _human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="skewguard")
def cli() -> None:
    """Asset versioning, cache busting and version-skew protection for Python web apps."""


def main(args: list[str] | None = None) -> None:
    """Entry point: every error is one line on stderr; exit 1 for failures, 2 for usage errors."""
    try:
        cli.main(args=args, prog_name="skewguard", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx and exc.ctx.parent else ""
        click.echo(f"skewguard: error: {exc.format_message()}{hint}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("skewguard: aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


@cli.command()
@click.argument("sources", nargs=-1, required=True, metavar="SRC...")
@click.option(
    "--out", "-o", required=True, type=click.Path(file_okay=False), help="Output directory."
)
@click.option("--no-originals", is_flag=True, help="Do not write canonical-name copies.")
@click.option("--strict", is_flag=True, help="Fail (exit 1) when any reference is missing.")
@click.option(
    "--no-es-modules", is_flag=True, help="Do not rewrite ES module import/export specifiers."
)
@click.option(
    "--no-import-hook",
    is_flag=True,
    help="Do not wrap dynamic import() calls so that the client holds the page while one loads.",
)
@click.option(
    "--static-url",
    default="/static/",
    show_default=True,
    help="URL prefix that root-absolute references start with.",
)
@click.option("--hash-length", type=click.IntRange(8, 64), default=12, show_default=True)
@click.option(
    "--passthrough", metavar="REGEX", help="Names already hashed by a bundler; emitted as they are."
)
@click.option("--no-compress", is_flag=True, help="Do not write .gz/.br/.zst siblings.")
@click.option("--brotli-quality", type=click.IntRange(0, 11), default=8, show_default=True)
@click.option("--gzip-level", type=click.IntRange(1, 9), default=6, show_default=True)
@click.option("--zstd-level", type=click.IntRange(1, 22), default=9, show_default=True)
@click.option("--release-id", help="Release id to record (default: the manifest hash).")
@click.option(
    "--force", is_flag=True, help="Replace a staticfiles.json that skewguard did not write."
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    metavar="N",
    help="Worker processes for hashing and compression (default: one per CPU; 1: none).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--publish",
    "publish_url",
    metavar="URL",
    help="Then publish the build to this release store (file:///path, s3://bucket/prefix).",
)
@click.option("--with-siblings", is_flag=True, help=_WITH_SIBLINGS_HELP)
def build(
    sources: tuple[str, ...],
    out: str,
    no_originals: bool,
    strict: bool,
    no_es_modules: bool,
    no_import_hook: bool,
    static_url: str,
    hash_length: int,
    passthrough: str | None,
    no_compress: bool,
    brotli_quality: int,
    gzip_level: int,
    zstd_level: int,
    release_id: str | None,
    force: bool,
    jobs: int | None,
    quiet: bool,
    as_json: bool,
    publish_url: str | None,
    with_siblings: bool,
) -> None:
    """Build content-hashed static files from SRC directories into --out.

    A SRC may carry a URL prefix: vendor=node_modules/pkg puts its files under vendor/.
    """
    from .build import BuildError, BuildOptions, MissingReferences
    from .build import build as run_build

    try:
        pattern = re.compile(passthrough) if passthrough else None
    except re.error as exc:
        raise click.BadParameter(
            f"not a regular expression: {exc}", param_hint="--passthrough"
        ) from None
    options = BuildOptions(
        hash_length=hash_length,
        originals=not no_originals,
        strict=strict,
        es_modules=not no_es_modules,
        import_hook=not no_import_hook,
        static_url=static_url if static_url.endswith("/") else static_url + "/",
        passthrough=pattern,
        compress=not no_compress,
        brotli_quality=brotli_quality,
        gzip_level=gzip_level,
        zstd_level=zstd_level,
        release_id=release_id,
        force=force,
    )
    if jobs is not None:
        options.workers = jobs
    show_progress = not quiet and not as_json and sys.stderr.isatty()
    bar = None

    def progress(advance: int, total: int) -> None:
        nonlocal bar
        if bar is None:  # created on the first report, when the total is known
            bar = click.progressbar(length=total, label="building", file=sys.stderr, show_pos=True)
            bar.__enter__()
        bar.update(advance)

    try:
        try:
            report = run_build(list(sources), out, options, progress if show_progress else None)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
    except MissingReferences as exc:
        for line in exc.missing:
            click.echo(f"skewguard: {line}", err=True)
        raise _Failure(str(exc)) from None
    except BuildError as exc:
        raise _Failure(str(exc)) from None
    except OSError as exc:
        raise _Failure(f"{exc.filename or out}: {exc.strerror}") from None

    published = None
    if publish_url:
        from .build.compress import Levels

        levels = Levels(brotli=brotli_quality, gzip=gzip_level, zstd=zstd_level)
        published = _publish_build(
            out, publish_url, quiet or as_json, levels=levels, siblings=with_siblings
        )
    if as_json:
        document = report.as_dict()
        if published is not None:
            document["publish"] = published.as_dict()
        click.echo(json.dumps(document, indent=2))
        return
    if quiet:
        return
    for warning in report.warnings[:_WARNINGS_SHOWN]:
        click.echo(f"warning: {warning}", err=True)
    if len(report.warnings) > _WARNINGS_SHOWN:
        click.echo(
            f"warning: ... and {len(report.warnings) - _WARNINGS_SHOWN} more (--json lists them all)",
            err=True,
        )
    click.echo(
        f"built {report.files} files ({_human_bytes(report.bytes)}) into {report.out}: "
        f"{report.written} written, {report.passed_through} passed through, "
        f"compression saved {_human_bytes(report.compression_saved)}, "
        f"{len(report.warnings)} warning(s)\n"
        f"version {report.version} (release {report.release_id}) in {report.seconds:.2f}s"
    )
    if published is not None:
        click.echo(_publish_summary(published))


_Command = TypeVar("_Command", bound=Callable[..., Any])


def _tabs_options(command: _Command) -> _Command:
    """Where the live-tab counts are: Redis, a file registry, or a running server's status page."""
    command = click.option(
        "--token",
        envvar="SKEWGUARD_STATUS_TOKEN",
        help="Token for --url (default: $SKEWGUARD_STATUS_TOKEN).",
    )(command)
    command = click.option(
        "--url", metavar="URL", help="A server's status page (STATUS_PATH), for its own counts."
    )(command)
    command = click.option(
        "--registry-path",
        envvar="SKEWGUARD_REGISTRY_PATH",
        type=click.Path(dir_okay=False),
        help="File registry path (default: DIR/.skewguard/registry.json).",
    )(command)
    command = click.option(
        "--redis-url",
        envvar="SKEWGUARD_REDIS_URL",
        help="Redis the servers count tabs in (default: $SKEWGUARD_REDIS_URL).",
    )(command)
    return command


_TABS_ENVIRONMENT = (
    "SKEWGUARD_TELEMETRY_WINDOW",
    "SKEWGUARD_TELEMETRY_MAX_TABS",
    "SKEWGUARD_CLIENT_POLL_INTERVAL",
    "SKEWGUARD_REDIS_PREFIX",
)


def _tabs_report(
    redis_url: str | None,
    static_root: str | None,
    registry_path: str | None,
    url: str | None,
    token: str | None,
) -> tuple[TabsReport | None, str | None]:
    """The live-tab report and its source; (None, None) when no source is configured."""
    from .settings import Settings, SettingsError
    from .telemetry.recorders import read_directory
    from .telemetry.runtime import (
        fetch_status,
        report_from_document,
        telemetry_directory,
        window_seconds,
    )

    if url:
        try:
            return report_from_document(fetch_status(url, token or "")), url
        except (OSError, ValueError, KeyError) as exc:
            raise _Failure(f"{url}: no status document ({exc})") from None
    try:
        settings = Settings.load(
            {
                "REDIS_URL": redis_url or "",
                "STATIC_ROOT": static_root or "",
                "REGISTRY_PATH": registry_path or "",
                "REGISTRY": "" if redis_url else "file",
            },
            # What the servers were told about the window and the key prefix, nothing else.
            environ={k: v for k, v in os.environ.items() if k in _TABS_ENVIRONMENT},
        )
    except SettingsError as exc:
        raise _Failure(str(exc)) from None
    window, limit = window_seconds(settings), int(settings.TELEMETRY_MAX_TABS)
    if redis_url:
        from .telemetry.redis_recorder import RedisRecorder

        try:
            recorder = RedisRecorder(redis_url, settings.REDIS_PREFIX, window, limit)
        except ValueError as exc:
            raise _Failure(f"invalid --redis-url: {exc}") from None
        report = recorder.report()
        if not report.available:
            raise _Failure(f"Redis at {redis_url} is unreachable")
        return report, redis_url
    directory = telemetry_directory(settings)
    registry_file = os.path.join(os.path.dirname(directory), "registry.json") if directory else ""
    if directory and (os.path.isdir(directory) or os.path.isfile(registry_file)):
        # A file registry whose servers have not written counts yet: no live tabs.
        return read_directory(directory, window, limit), directory
    return None, None


def _note_no_live_tab_counts() -> None:
    click.echo(
        "note: no live-tab counts found (--redis-url, --registry-path or --url); "
        "pruning by --keep and --max-age only",
        err=True,
    )


def _refuse_live_prune(
    directory: str,
    dropped: list[str],
    pin_age: timedelta,
    redis_url: str | None,
    registry_path: str | None,
    url: str | None,
    token: str | None,
) -> None:
    from .build.history import load_history

    report, source = _tabs_report(redis_url, directory, registry_path, url, token)
    if report is None:
        _note_no_live_tab_counts()
        return
    records = {r.id: r for r in load_history(directory)}
    labelled = []
    for release_id in dropped:
        record = records.get(release_id)
        born = _parse_time(record.built_at) if record else None
        labelled.append(((release_id, record.hash if record else None), born))
    _refuse_pinned(report, source, labelled, pin_age, "not pruning")


def _refuse_pinned(
    report: TabsReport,
    source: str | None,
    labelled: Sequence[tuple[tuple[str | None, ...], datetime | None]],
    pin_age: timedelta,
    refusal: str,
) -> None:
    """Refuse (``refusal``: what is not done) while live tabs run a release about to go.
    ``labelled``: each release's labels (its id, and the version its tabs report) and its age."""
    from .telemetry.retention import describe, live_releases

    versions: list[str] = []
    created: dict[str, datetime | None] = {}
    for labels, born in labelled:
        for label in labels:
            if label:
                versions.append(label)
                created[label] = born
    found = live_releases(report, versions, created, pin_age)
    _warn_unpinned(found)
    pinned = [r for r in found if r.pinned]
    if pinned:
        raise _Failure(
            f"{refusal}: live tabs still run {describe(pinned)} (counts from {source}); "
            "wait until they converge, or --force"
        )


def _warn_unpinned(found: list[LiveRelease]) -> None:
    for r in found:
        if not r.pinned:
            click.echo(
                f"warning: {r.version} is older than --pin-max-age: pruned although "
                f"{r.live} tab(s) still run it",
                err=True,
            )


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False), required=False)
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    envvar="SKEWGUARD_STORE",
    help="Prune this release store instead of a build directory ($SKEWGUARD_STORE).",
)
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Newest releases to keep.",
)
@click.option(
    "--max-age",
    default="7d",
    show_default=True,
    help="Also keep releases younger than this (90s, 10m, 12h, 7d, 2w).",
)
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@click.option("--force", is_flag=True, help="Prune even releases that live tabs still run.")
@click.option(
    "--pin-max-age",
    default="30d",
    show_default=True,
    help="Live tabs keep a release at most this old (a forgotten tab cannot pin it for ever).",
)
@_tabs_options
def prune(
    directory: str | None,
    store_url: str | None,
    keep: int,
    max_age: str,
    dry_run: bool,
    force: bool,
    pin_max_age: str,
    redis_url: str | None,
    registry_path: str | None,
    url: str | None,
    token: str | None,
) -> None:
    """Delete files that only releases outside the retention window need.

    With --store, prune the release store by reference: only objects no retained release
    references are deleted. Either way, refuses while live tabs (the servers' heartbeat counts)
    still run a release it would drop."""
    from .build import STATE_DIR, BuildError, apply_prune, parse_duration, plan_prune
    from .build.lock import exclusive

    try:
        age = parse_duration(max_age)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-age") from None
    try:
        pin_age = parse_duration(pin_max_age)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--pin-max-age") from None
    if store_url and not directory:
        if not force:
            _refuse_live_store_prune(
                store_url, keep, age, pin_age, redis_url, registry_path, url, token
            )
        _prune_store(store_url, keep, age, dry_run)
        return
    if directory is None:
        raise click.UsageError("give a build DIRECTORY or --store URL")
    if not os.path.isdir(directory):
        raise _Failure(f"{directory} is not a build output directory")
    try:
        state_dir = os.path.join(directory, STATE_DIR)
        with exclusive(state_dir) if os.path.isdir(state_dir) else contextlib.nullcontext():
            plan = plan_prune(directory, keep, age)
            if plan.dropped and not force:
                _refuse_live_prune(
                    directory, plan.dropped, pin_age, redis_url, registry_path, url, token
                )
            if not dry_run:
                apply_prune(directory, plan)
    except BuildError as exc:
        raise _Failure(str(exc)) from None
    verb = "would delete" if dry_run else "deleted"
    for name in plan.delete:
        click.echo(f"{verb} {name}")
    click.echo(
        f"{verb} {len(plan.delete)} file(s); kept {len(plan.kept)} release(s), "
        f"{'would drop' if dry_run else 'dropped'} {len(plan.dropped)}"
    )


def _refuse_live_store_prune(
    store_url: str,
    keep: int,
    max_age: timedelta,
    pin_age: timedelta,
    redis_url: str | None,
    registry_path: str | None,
    url: str | None,
    token: str | None,
) -> None:
    """The store's collection would drop releases: refuse while live tabs still run one."""
    from .store import StoreError, open_store
    from .store.collect import collect, load_releases

    report, source = _tabs_report(redis_url, None, registry_path, url, token)
    if report is None:
        _note_no_live_tab_counts()
        return
    try:
        store = open_store(store_url)
        plan = collect(store, keep, max_age, dry_run=True)
        records = {r.id: r for r in load_releases(store)}
    except StoreError as exc:
        raise _Failure(str(exc)) from None
    # Tabs report the page's version; a release published with its own id (a commit, say) is
    # matched by both. Its age for --pin-max-age is its publish time.
    labelled = []
    for release_id in plan.dropped:
        record = records.get(release_id)
        born = _parse_time(record.published_at) if record else None
        labelled.append(((release_id, record.version if record else None), born))
    _refuse_pinned(report, source, labelled, pin_age, "not pruning the store")


def _prune_store(store_url: str, keep: int, max_age: timedelta, dry_run: bool) -> None:
    from .store import StoreError, open_store
    from .store.collect import collect

    try:
        plan = collect(open_store(store_url), keep, max_age, dry_run=dry_run)
    except StoreError as exc:
        raise _Failure(str(exc)) from None
    verb = "would delete" if dry_run else "deleted"
    for key in plan.delete:
        click.echo(f"{verb} {key}")
    leased = f", {plan.leased} kept for a publish in progress" if plan.leased else ""
    click.echo(
        f"{verb} {len(plan.delete)} object(s); kept {len(plan.kept)} release(s), "
        f"{'would drop' if dry_run else 'dropped'} {len(plan.dropped)}{leased}"
    )


def _publish_build(
    directory: str,
    store_url: str,
    quiet: bool,
    registry: ReleaseRegistry | None = None,
    levels: Levels | None = None,
    siblings: bool = False,
) -> PublishReport:
    """Publish ``directory`` to the store: a progress bar on a terminal, errors as one line."""
    from .store import StoreError, open_store
    from .store.publish import publish as run_publish

    bar = None

    def progress(advance: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="uploading", file=sys.stderr, show_pos=True)
            bar.__enter__()
        bar.update(advance)

    show_progress = not quiet and sys.stderr.isatty()
    try:
        try:
            report = run_publish(
                directory,
                open_store(store_url),
                progress if show_progress else None,
                levels=levels,
                siblings=siblings,
            )
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
    except StoreError as exc:
        raise _Failure(str(exc)) from None
    if registry is not None:
        from .store.registration import register_releases

        register_releases(registry, [(report.version, report.release_id)])
    return report


def _publish_summary(report: PublishReport) -> str:
    return (
        f"published release {report.release_id} (version {report.version}) to {report.store}: "
        f"{report.uploaded} uploaded ({_human_bytes(report.bytes)}), {report.skipped} skipped, "
        f"in {report.seconds:.2f}s"
    )


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
def version(directory: str) -> None:
    """Print the version of the build in DIRECTORY and where it comes from."""
    from .manifest import Manifest, ManifestError, manifest_path

    try:
        manifest = Manifest.load(manifest_path(directory))
    except ManifestError as exc:
        raise _Failure(str(exc)) from None
    click.echo(f"{manifest.hash} (source: manifest)")


if TYPE_CHECKING:  # generic for type checkers; click 8.1 and 8.2 are not at run time
    _IntParamType = click.ParamType[int]
else:
    _IntParamType = click.ParamType


class TokenLifetime(_IntParamType):
    """A bust token's lifetime, as every ``token`` command takes it: ``90s``, ``10m``, ``12h``,
    ``7d``, or plain seconds (``600``); from 1 s to 10 years. The value is the seconds."""

    name = "lifetime"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        from .build.history import parse_duration
        from .tokens import MAX_TTL_SECONDS

        if isinstance(value, int):
            seconds = value
        elif re.fullmatch(r"\s*[0-9]{1,12}\s*", str(value)):  # ASCII digits only: "²" is no 2
            seconds = int(str(value))
        else:
            try:
                seconds = int(parse_duration(str(value)).total_seconds())
            except ValueError as exc:
                raise click.BadParameter(str(exc), ctx, param_hint="--ttl") from None
            except OverflowError:  # more days than a timedelta holds
                seconds = MAX_TTL_SECONDS + 1
        if not 0 < seconds <= MAX_TTL_SECONDS:
            raise click.BadParameter(
                f"{value!r} is not a lifetime from 1s to 10 years (3650d)", ctx, param_hint="--ttl"
            )
        return seconds


TOKEN_TTL_HELP = "Lifetime: 90s, 10m, 12h, 7d, or seconds."


@cli.command()
@click.option("--ttl", default="10m", show_default=True, type=TokenLifetime(), help=TOKEN_TTL_HELP)
@click.option(
    "--secret-key",
    envvar="SKEWGUARD_SECRET_KEY",
    help="Signing key (default: $SKEWGUARD_SECRET_KEY).",
)
def token(ttl: int, secret_key: str | None) -> None:
    """Print a bearer token for POST /cache/bust, signed with the app's SECRET_KEY."""
    from .tokens import make_token

    if not secret_key:
        raise click.UsageError("no secret key: pass --secret-key or set SKEWGUARD_SECRET_KEY")
    click.echo(make_token(secret_key, ttl))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    help="Where to build the demo's assets (default: a temporary directory).",
)
@click.option(
    "--poll",
    default=3.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds between the client's /version checks.",
)
def demo(host: str, port: int, workdir: str | None, poll: float) -> None:
    """Serve a small app that shows stale-client detection and each policy (open it in two tabs)."""
    from .demo import DemoError, serve

    try:
        serve(host, port, workdir, poll)
    except DemoError as exc:
        raise _Failure(str(exc)) from None


@cli.group()
def release() -> None:
    """List, activate and retire releases in the release registry (file or Redis)."""


def _registry_options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option(
        "--redis-url",
        envvar="SKEWGUARD_REDIS_URL",
        help="Redis registry (default: $SKEWGUARD_REDIS_URL).",
    )(command)
    command = click.option(
        "--static-root",
        envvar="SKEWGUARD_STATIC_ROOT",
        type=click.Path(file_okay=False),
        help="Build directory whose file registry to use (default: $SKEWGUARD_STATIC_ROOT).",
    )(command)
    command = click.option(
        "--registry-path",
        envvar="SKEWGUARD_REGISTRY_PATH",
        type=click.Path(dir_okay=False),
        help="File registry path (default: STATIC_ROOT/.skewguard/registry.json).",
    )(command)
    return command


def _open_registry(
    redis_url: str | None, static_root: str | None, registry_path: str | None
) -> ReleaseRegistry:
    from .releases import RegistryError, open_registry
    from .settings import Settings, SettingsError

    if not redis_url and not (static_root or registry_path):
        raise click.UsageError(
            "say where the registry is: --static-root, --registry-path or --redis-url"
        )
    try:
        settings = Settings.load(
            {
                "REDIS_URL": redis_url or "",
                "STATIC_ROOT": static_root or "",
                "REGISTRY_PATH": registry_path or "",
                "REGISTRY": "redis" if redis_url else "file",
            },
            environ={},
        )
        registry = open_registry(settings)
    except (SettingsError, RegistryError) as exc:
        raise _Failure(str(exc)) from None
    assert registry is not None  # "file" and "redis" always give one
    return registry


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    envvar="SKEWGUARD_STORE",
    required=True,
    help="The release store: file:///path or s3://bucket/prefix ($SKEWGUARD_STORE).",
)
@click.option(
    "--register",
    is_flag=True,
    help="Also register the release in the registry (--redis-url, --static-root, --registry-path).",
)
@_registry_options
@click.option("--with-siblings", is_flag=True, help=_WITH_SIBLINGS_HELP)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def publish(
    directory: str,
    store_url: str,
    register: bool,
    redis_url: str | None,
    static_root: str | None,
    registry_path: str | None,
    with_siblings: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Publish the build in DIRECTORY to a release store: the assets it lacks, then the
    release's manifest, then the current-release pointer."""
    registry = _open_registry(redis_url, static_root, registry_path) if register else None
    report = _publish_build(
        directory, store_url, quiet or as_json, registry, siblings=with_siblings
    )
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    elif not quiet:
        click.echo(_publish_summary(report))


@release.command("list")
@_registry_options
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    envvar="SKEWGUARD_STORE",
    help="Also say where each release's files are: in --static-root, in this store, both or "
    "neither ($SKEWGUARD_STORE).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the releases as JSON.")
def release_list(
    redis_url: str | None,
    static_root: str | None,
    registry_path: str | None,
    store_url: str | None,
    as_json: bool,
) -> None:
    """Releases, oldest first, with their state (active, retained, retired) and, with --store,
    where their files are."""
    from .releases import RegistryError

    try:
        state = _open_registry(redis_url, static_root, registry_path).state()
    except RegistryError as exc:
        raise _Failure(str(exc)) from None
    where = _release_locations(store_url, static_root) if store_url else None
    if as_json:
        document = state.as_json()
        if where is not None:
            document["releases"] = [
                {**vars(r), "files": where.of(r.id, r.version)} for r in state.releases
            ]
            document["store"] = where.store
            document["store_only"] = where.unregistered(state.releases)
        click.echo(json.dumps(document, indent=2))
        return
    if not state.releases:
        click.echo("no releases registered")
    for r in state.releases:
        files = f"  files={where.of(r.id, r.version)}" if where is not None else ""
        click.echo(f"{r.version:<24} {r.state:<9} {r.created}  id={r.id}{files}")
    if where is not None:
        extra = where.unregistered(state.releases)
        if extra:
            click.echo(
                f"the store also holds {len(extra)} unregistered release(s): {', '.join(extra)}"
            )


def _release_locations(store_url: str, static_root: str | None) -> ReleaseLocations:
    from .errors import SkewguardError
    from .store import open_store
    from .store.locations import ReleaseLocations

    try:
        return ReleaseLocations.find(open_store(store_url), static_root)
    except SkewguardError as exc:  # the store cannot be listed; an unreadable build history
        raise _Failure(str(exc)) from None


def _change_release(
    action: str,
    past: str,
    redis_url: str | None,
    static_root: str | None,
    registry_path: str | None,
    version: str,
) -> None:
    from .releases import RegistryError

    try:
        getattr(_open_registry(redis_url, static_root, registry_path), action)(version)
    except RegistryError as exc:
        raise _Failure(str(exc)) from None
    click.echo(f"{past} {version}")


@release.command("activate")
@_registry_options
@click.argument("version")
def release_activate(
    redis_url: str | None, static_root: str | None, registry_path: str | None, version: str
) -> None:
    """Make VERSION the fleet's active release (the previous one stays retained)."""
    _change_release("activate", "activated", redis_url, static_root, registry_path, version)


@release.command("retire")
@_registry_options
@click.argument("version")
def release_retire(
    redis_url: str | None, static_root: str | None, registry_path: str | None, version: str
) -> None:
    """Retire VERSION: clients still running it must reload (says how many tabs that is)."""
    from .telemetry.retention import describe, live_releases

    report, source = _tabs_report(redis_url, static_root, registry_path, None, None)
    found = live_releases(report, [version]) if report is not None else []
    if found:
        click.echo(
            f"warning: live tabs still run {describe(found)} (counts from {source}): "
            "they reload at their next request, held ones when released",
            err=True,
        )
    _change_release("retire", "retired", redis_url, static_root, registry_path, version)


@cli.command()
@_registry_options
@click.option("--url", metavar="URL", help="A server's status page (STATUS_PATH) instead.")
@click.option(
    "--token",
    envvar="SKEWGUARD_STATUS_TOKEN",
    help="Token for --url (default: $SKEWGUARD_STATUS_TOKEN).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the status document as JSON.")
@click.option(
    "--watch",
    "watch",
    type=click.FloatRange(min=0.5),
    is_flag=False,
    flag_value=2.0,
    default=None,
    metavar="[SECONDS]",
    help="Refresh every SECONDS (default 2) until Ctrl-C.",
)
def status(
    redis_url: str | None,
    static_root: str | None,
    registry_path: str | None,
    url: str | None,
    token: str | None,
    as_json: bool,
    watch: float | None,
) -> None:
    """Releases and their open tabs: live, stale, held (and why), chunk errors, convergence,
    and a sparkline of live tabs over the last hour."""
    import time

    from .telemetry.runtime import fetch_status, status_document
    from .telemetry.terminal import render

    def document() -> dict[str, Any]:
        if url:
            try:
                return fetch_status(url, token or "")
            except (OSError, ValueError) as exc:
                raise _Failure(f"{url}: no status document ({exc})") from None
        report, _ = _tabs_report(redis_url, static_root, registry_path, None, None)
        if report is None and not (static_root or registry_path):
            raise click.UsageError(
                "say where the counts are: --redis-url, --static-root, --registry-path or --url"
            )
        if report is None:
            raise _Failure(
                f"no live-tab counts at {registry_path or static_root} yet: no server with the "
                "file registry has run there (or give --redis-url or --url)"
            )
        from .releases import RegistryError

        try:
            registry = _open_registry(redis_url, static_root, registry_path).state()
        except RegistryError:
            registry = None
        active = registry.active.version if registry is not None and registry.active else ""
        return status_document(report, registry, active)

    if watch is None:
        current = document()
        click.echo(json.dumps(current, indent=2) if as_json else render(current))
        return
    try:
        while True:
            current = document()
            text = json.dumps(current, indent=2) if as_json else render(current)
            click.clear()
            click.echo(text)
            time.sleep(watch)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how --watch ends


@cli.command("nginx-config")
@click.option(
    "--map",
    "map_file",
    type=click.Path(dir_okay=False, exists=True),
    help='JSON file: {"version_map": {"v1": "127.0.0.1:9001", ...}, "default_version": "v1"}.',
)
@click.option(
    "--backend",
    "backends",
    multiple=True,
    metavar="VERSION=HOST:PORT",
    help="A version and its backend (repeatable).",
)
@click.option("--default", "default_version", help="Version for requests that ask for none.")
@click.option("--listen", default="127.0.0.1:8080", show_default=True)
@click.option(
    "--backend-pattern",
    metavar="HOST:PORT",
    help="With a registry: each release's backend, e.g. 'app-{version}:8000'.",
)
@_registry_options
def nginx_config_command(
    map_file: str | None,
    backends: tuple[str, ...],
    default_version: str | None,
    listen: str,
    backend_pattern: str | None,
    redis_url: str | None,
    static_root: str | None,
    registry_path: str | None,
) -> None:
    """Print nginx configuration that routes by X-App-Requested-Version / the app_version cookie.

    The version map comes from --map, from --backend options, or from the release registry
    (--redis-url / --static-root / --registry-path with --backend-pattern; the active release is
    the default, retired releases are left out).
    """
    from .routing import RoutingError, map_from_registry, nginx_config

    version_map: dict[str, str] = {}
    if backend_pattern:
        from .releases import RegistryError

        try:
            version_map, registry_default = map_from_registry(
                _open_registry(redis_url, static_root, registry_path).state(), backend_pattern
            )
        except (RegistryError, RoutingError) as exc:
            raise _Failure(str(exc)) from None
        default_version = default_version or registry_default
    if map_file:
        try:
            with open(map_file, encoding="utf-8") as fh:
                document = json.load(fh)
            version_map.update(document["version_map"])
            default_version = default_version or document.get("default_version")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _Failure(f"{map_file}: not a version map ({exc})") from None
    for item in backends:
        version, eq, backend = item.partition("=")
        if not eq:
            raise click.BadParameter(f"{item!r} is not VERSION=HOST:PORT", param_hint="--backend")
        version_map[version] = backend
    if not version_map or not default_version:
        raise click.UsageError(
            "give --map, or --backend VERSION=HOST:PORT ... and --default VERSION"
        )
    try:
        click.echo(nginx_config(version_map, default_version, listen), nl=False)
    except RoutingError as exc:
        raise _Failure(str(exc)) from None


def framework_commands(guard: Skewguard) -> click.Group:
    """The ``skewguard`` group a framework's own CLI offers (``flask skewguard``, ``litestar
    skewguard``): build, prune and version, and tokens signed with the app's SECRET_KEY."""

    @click.group("skewguard")
    def group() -> None:
        """skewguard: build hashed assets, prune old releases, mint bust tokens."""

    group.add_command(build)
    group.add_command(prune)
    group.add_command(version)

    @group.command("token")
    @click.option(
        "--ttl", default="10m", show_default=True, type=TokenLifetime(), help=TOKEN_TTL_HELP
    )
    def token(ttl: int) -> None:
        """Print a bust token signed with the app's SECRET_KEY."""
        if not guard.settings.SECRET_KEY:
            raise click.ClickException("the app has no SECRET_KEY")
        click.echo(guard.make_token(ttl))

    return group
