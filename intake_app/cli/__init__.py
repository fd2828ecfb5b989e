"""The ``intake-app`` command line: one contract shared by all features.

The contract is docs/architecture.md, "Command line contract".

Global options select the profile (``--data-dir``, env ``INTAKE_DATA_DIR``) and the user
(``--user``, env ``INTAKE_USER``; password from ``--password-file``, env
``INTAKE_PASSWORD`` or a prompt). Errors are one line on stderr in plain words; exit 2
for usage and validation errors, 1 for other failures. Without a command the desktop
program starts. Each group of commands lives in its own module and registers itself.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from intake_app import __version__
from intake_app.cli import forms_cmds, sync_cmds
from intake_app.demo import default_demo_dir
from intake_app.errors import AuthError, IntakeError, UsageError
from intake_app.i18n import _, language_from_environment, normalise_language, set_language
from intake_app.logs import resolve_log_dir, setup_logging
from intake_app.storage.profile import Profile, resolve_data_dir

if TYPE_CHECKING:
    from intake_app.app import Workspace

log = logging.getLogger("intake.core")

Handler = Callable[["Context"], int]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        error = _("Fehler")
        self.exit(2, f"{self.prog}: {error}: {message}\n")


class Context:
    """What a command handler needs: the parsed arguments and access to the profile."""

    def __init__(self, args: argparse.Namespace, *, data_dir: Path, explicit_dir: bool) -> None:
        self.args = args
        self.data_dir = data_dir
        self.explicit_dir = explicit_dir
        self.profile = Profile(data_dir)
        self._workspace: Any = None

    def out(self, text: str = "") -> None:
        """Print a line of normal output."""
        print(text)

    def err(self, text: str) -> None:
        """Print a line that needs attention on stderr."""
        print(f"intake-app: {text}", file=sys.stderr)

    def require_profile(self) -> None:
        """Fail with a clear message when there is no profile in the data folder."""
        if not self.profile.exists():
            raise UsageError(
                _(
                    "In {path} gibt es kein Intake-Profil. Legen Sie eines an mit: "
                    "intake-app init --admin NAME"
                ).format(path=self.data_dir)
            )

    def username(self) -> str:
        """The user from ``--user`` or ``INTAKE_USER``."""
        name = self.args.user or os.environ.get("INTAKE_USER")
        if not name:
            raise UsageError(_("Bitte geben Sie mit --user NAME an, wer den Befehl ausführt."))
        return str(name)

    def password(self) -> str:
        """The user's password from ``--password-file``, ``INTAKE_PASSWORD`` or a prompt."""
        return read_secret(
            file=self.args.password_file,
            env="INTAKE_PASSWORD",
            prompt=_("Passwort: "),
        )

    def new_password(self, *, confirm: bool = True) -> str:
        """A new password from ``--new-password-file``, ``INTAKE_NEW_PASSWORD`` or a prompt."""
        return read_secret(
            file=getattr(self.args, "new_password_file", None),
            env="INTAKE_NEW_PASSWORD",
            prompt=_("Neues Passwort: "),
            confirm_prompt=_("Neues Passwort wiederholen: ") if confirm else None,
        )

    def workspace(self, *, changing_password: bool = False) -> Workspace:
        """Sign in with ``--user`` and the password; the workspace is closed at exit.

        A user who must change her password is refused here until she has changed it
        (``passwd`` passes ``changing_password``), as in the desktop program. Where the
        signed state of the profile does not check, what was changed is said on stderr.
        """
        # Deferred: the storage stack (SQLAlchemy) loads for a command that signs in, not
        # before the desktop program's log-in window (docs/architecture.md, "Start-up").
        from intake_app.app import Workspace

        if self._workspace is None:
            self.require_profile()
            workspace = Workspace.sign_in(
                self.profile, username=self.username(), password=self.password()
            )
            new_key = workspace.sign_in_result.new_recovery_key
            if new_key:
                # shown once: the profile just moved to record stores (docs/security.md)
                print(
                    _(
                        "Intake hat die Verschlüsselung umgestellt. Der bisherige "
                        "Wiederherstellungsschlüssel gilt nicht mehr. Neuer "
                        "Wiederherstellungsschlüssel (bitte jetzt aufschreiben und sicher "
                        "verwahren): {key}"
                    ).format(key=new_key),
                    file=sys.stderr,
                )
            for message in workspace.sign_in_result.integrity_messages:
                warning = _("Warnung")
                print(f"intake-app: {warning}: {message}", file=sys.stderr)
            for message in workspace.sign_in_result.notices:
                print(f"intake-app: {message}", file=sys.stderr)
            if workspace.sign_in_result.must_change_password and not changing_password:
                workspace.close()
                raise AuthError(
                    _(
                        "Sie müssen zuerst Ihr Anfangspasswort ändern: intake-app passwd "
                        "--user {name}"
                    ).format(name=workspace.actor.username)
                )
            self._workspace = workspace
        return self._workspace

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = None


def read_secret(
    *, file: str | None, env: str, prompt: str, confirm_prompt: str | None = None
) -> str:
    """Read a password from a file (first line), an environment variable, or a prompt."""
    if file:
        try:
            text = Path(file).read_text("utf-8")
        except OSError as exc:
            raise UsageError(
                _("Die Passwortdatei {file} kann nicht gelesen werden: {reason}").format(
                    file=file, reason=exc.strerror or exc
                )
            ) from None
        lines = text.splitlines()
        value = lines[0] if lines else ""
        if not value:
            raise UsageError(_("Die Passwortdatei {file} ist leer.").format(file=file))
        return value
    from_env = os.environ.get(env)
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        raise UsageError(
            _(
                "Kein Passwort angegeben. Nutzen Sie eine Passwortdatei oder die Variable {env}."
            ).format(env=env)
        )
    value = getpass.getpass(prompt)
    if confirm_prompt is not None and getpass.getpass(confirm_prompt) != value:
        raise UsageError(_("Die beiden Eingaben stimmen nicht überein."))
    return value


class _SubParser(_Parser):
    """A command's parser: accepts the global options after the command name, too."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        _global_options(self, default=argparse.SUPPRESS)


def _global_options(parser: argparse.ArgumentParser, *, default: object = None) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=default,
        help=_("Profilordner (Standard: Benutzerdatenordner; Variable INTAKE_DATA_DIR)"),
    )
    parser.add_argument(
        "--user", metavar="NAME", default=default, help=_("Benutzername (Variable INTAKE_USER)")
    )
    parser.add_argument(
        "--password-file",
        metavar="FILE",
        default=default,
        help=_("Datei mit dem Passwort (Variable INTAKE_PASSWORD)"),
    )


def build_parser(*, commands: bool = True) -> argparse.ArgumentParser:
    """The full parser with every command group registered (``commands=False``: only the
    options of the program itself, enough to start the desktop program)."""
    parser = _Parser(
        prog="intake-app",
        description=_("Intake – Erstgespräche verschlüsselt erfassen, drucken und übermitteln."),
    )
    parser.add_argument("--version", action="version", version=f"Intake {__version__}")
    _global_options(parser)
    parser.add_argument(
        "--demo",
        action="store_true",
        help=_("Ein Demo-Profil mit Beispieldaten öffnen (wird bei Bedarf angelegt)"),
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help=_("Selbsttest des installierten Programms ausführen und beenden"),
    )
    if not commands:
        return parser
    # Deferred: the command groups load the storage stack (SQLAlchemy), which the desktop
    # program loads only at sign-in (docs/architecture.md, "Start-up").
    import intake_app.cli.backup_cmds as backup_cmds
    import intake_app.cli.lifecycle_cmds as lifecycle_cmds
    import intake_app.cli.profile_cmds as profile_cmds
    import intake_app.cli.records_cmds as records_cmds
    import intake_app.cli.reports_cmds as reports_cmds

    groups = parser.add_subparsers(dest="command", metavar=_("BEFEHL"), parser_class=_SubParser)
    for module in (
        profile_cmds,
        forms_cmds,
        records_cmds,
        reports_cmds,
        sync_cmds,
        lifecycle_cmds,
        backup_cmds,
    ):
        module.register(groups)
    return parser


def _choose_language(data_dir: Path) -> None:
    if os.environ.get("INTAKE_LANG"):
        set_language(language_from_environment())
        return
    profile = Profile(data_dir)
    if profile.meta_path.is_file():
        set_language(normalise_language(profile.device_setting("ui.language")))
    else:
        set_language(language_from_environment())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--data-dir")
    known, _rest = pre.parse_known_args(argv)
    explicit = bool(known.data_dir or os.environ.get("INTAKE_DATA_DIR"))
    data_dir = resolve_data_dir(known.data_dir)
    _choose_language(data_dir)

    # Without a command (the desktop program) the program's own options are enough: the
    # command groups and what they load are not imported (docs/architecture.md, "Start-up").
    rest = ["--help"] if {"-h", "--help"} & set(argv) else []
    if not rest:
        args, rest = build_parser(commands=False).parse_known_args(argv)
    if rest:
        args = build_parser().parse_args(argv)
    if args.demo and not known.data_dir and not os.environ.get("INTAKE_DATA_DIR"):
        data_dir, explicit = default_demo_dir(), True
    try:
        setup_logging(resolve_log_dir(data_dir, explicit_profile=explicit))
    except OSError:
        pass  # a read-only log folder must not stop the program
    ctx = Context(args, data_dir=data_dir, explicit_dir=explicit)
    handler: Handler | None = getattr(args, "handler", None)
    try:
        if args.self_test:
            # Deferred: the self-test loads every part of the program (SQLAlchemy, reportlab).
            from intake_app.selftest import run_self_test

            return run_self_test(ctx)
        if handler is None:
            # Deferred: Qt loads only for the desktop program, not for a command.
            from intake_app.ui.main import run_gui

            return run_gui(data_dir=data_dir, demo=args.demo)
        return handler(ctx)
    except IntakeError as exc:
        print(f"intake-app: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # the reader went away (``| head``): stop quietly, like other command-line tools
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("intake-app: " + _("Abgebrochen."), file=sys.stderr)
        return 130
    except Exception as exc:
        log.exception("unexpected error in command %s", getattr(args, "command", None))
        print(
            "intake-app: "
            + _("Interner Fehler ({kind}). Einzelheiten stehen im Protokoll.").format(
                kind=type(exc).__name__
            ),
            file=sys.stderr,
        )
        return 1
    finally:
        ctx.close()
