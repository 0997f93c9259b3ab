"""``manage.py skewguard token|bust|release|prune|status|build|version``: the ``skewguard``
command line with the project's settings (SECRET_KEY, STATIC_ROOT, the registry) as defaults.

None of these needs a built manifest: they run before ``collectstatic`` as well as after.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import click
from django.core.management.base import BaseCommand, CommandError, CommandParser

from skewguard import cli
from skewguard.contrib.django.conf import settings_from_django
from skewguard.settings import Settings, SettingsError


def project_settings() -> Settings:
    try:
        return Settings.load(settings_from_django())
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("skewguard")
def group() -> None:
    """skewguard with this project's settings."""


group.add_command(cli.build)
group.add_command(cli.prune)
group.add_command(cli.version)
group.add_command(cli.release)
group.add_command(cli.status)


@group.command("token")
@click.option(
    "--ttl", default="10m", show_default=True, type=cli.TokenLifetime(), help=cli.TOKEN_TTL_HELP
)
def token(ttl: int) -> None:
    """Print a bust token signed with the project's SECRET_KEY."""
    from skewguard.tokens import make_token

    settings = project_settings()
    if not settings.SECRET_KEY:
        raise click.ClickException("the project has no SECRET_KEY")
    click.echo(make_token(settings.SECRET_KEY, ttl))


@group.command("bust")
@click.option(
    "--url",
    help="POST a signed bust to this running server (http://127.0.0.1:8000/cache/bust). "
    "Without it, every server is told through the release registry.",
)
def bust(url: str | None) -> None:
    """Make running servers switch to the release now in STATIC_ROOT."""
    settings = project_settings()
    if url:
        _bust_over_http(url, settings)
    else:
        _bust_through_registry(settings)


def _bust_over_http(url: str, settings: Settings) -> None:
    import urllib.error
    import urllib.request

    from skewguard.tokens import make_token

    if not settings.SECRET_KEY:
        raise click.ClickException("the project has no SECRET_KEY")
    request = urllib.request.Request(
        url,
        method="POST",
        headers={"Authorization": "Bearer " + make_token(settings.SECRET_KEY, 60)},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the operator's URL
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace")[:300]
        raise click.ClickException(f"{url} answered {exc.code}: {body}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise click.ClickException(f"{url}: {exc}") from None
    click.echo(f"{answer.get('previous', '?')} -> {answer.get('version', '?')}")


def _bust_through_registry(settings: Settings) -> None:
    """What a server's bust does for the fleet, from here: the release in STATIC_ROOT becomes
    the deployed one and every worker watching the registry reloads (and says so)."""
    from skewguard.releases import RegistryError, open_registry, propagate_bust
    from skewguard.version import VersionError, resolve

    try:
        registry = open_registry(settings)
        if registry is None:
            raise click.ClickException(
                "no release registry configured (SKEWGUARD REGISTRY): pass --url of a server"
            )
        snapshot = resolve(settings)
    except (RegistryError, VersionError) as exc:
        raise click.ClickException(str(exc)) from None
    release_id = snapshot.release["id"] if snapshot.release else ""
    version = None if snapshot.version == "unknown" else snapshot.version
    outcome = propagate_bust(registry, version, release_id, lambda state: None)
    if outcome.state is None:
        raise click.ClickException(f"the registry is unreachable: {outcome.error}")
    late = f"; not applied yet by worker(s) {', '.join(outcome.late_workers)}"
    click.echo(
        f"announced bust {outcome.state.bust} for {snapshot.version}"
        + (late if outcome.late_workers else "")
    )


def _defaults(settings: Settings) -> dict[str, Any]:
    """The project's settings as defaults of the CLI's own options and arguments."""
    registry = {
        "static_root": settings.STATIC_ROOT or None,
        "redis_url": settings.REDIS_URL or None,
        "registry_path": settings.REGISTRY_PATH or None,
    }
    return {
        "prune": {"directory": settings.STATIC_ROOT or None},
        "version": {"directory": settings.STATIC_ROOT or None},
        "build": {"out": settings.STATIC_ROOT or None},
        "release": {name: registry for name in ("list", "activate", "retire")},
        "status": registry,
    }


class Command(BaseCommand):
    help = "skewguard: token, bust, release, prune, status, build, version (--help for each)."
    requires_system_checks: list[str] = []  # works before collectstatic: no manifest needed

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("arguments", nargs=argparse.REMAINDER)

    def run_from_argv(self, argv: list[str]) -> None:
        # click parses everything after "skewguard" (its own --help included), not argparse.
        try:
            self.handle(arguments=argv[2:])
        except CommandError as exc:
            if str(exc):
                self.stderr.write(f"skewguard: error: {exc}")
            sys.exit(exc.returncode)

    def handle(self, *args: Any, **options: Any) -> None:
        arguments = list(options.get("arguments") or args)
        try:
            defaults = _defaults(project_settings())
            group.main(
                args=arguments,
                prog_name="manage.py skewguard",
                standalone_mode=False,
                default_map=defaults,
            )
        except click.exceptions.Exit as exc:
            if exc.exit_code:
                raise CommandError("", returncode=exc.exit_code) from None
        except click.UsageError as exc:
            raise CommandError(exc.format_message(), returncode=2) from None
        except click.ClickException as exc:
            raise CommandError(exc.format_message()) from None
        except click.Abort:
            raise CommandError("aborted") from None
