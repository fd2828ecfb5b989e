"""``intake-central``: the command line of the central office.

::

    intake-central --home DIR init [--database-url URL]
    intake-central --home DIR enrol --device NAME --server-url URL --out FILE [--valid-days N]
    intake-central --home DIR register FILE [--out CONFIRMATION]
    intake-central --home DIR devices list | devices revoke NAME
                                       | devices recipient NAME RECIPIENT --purpose PURPOSE
    intake-central --home DIR handovers export --device NAME --out DIR
    intake-central --home DIR serve --host 127.0.0.1 --port P [--workers N] [--database-url URL]
    intake-central --home DIR import [--from-dir DIR] [--recovery-key FILE]
    intake-central --home DIR export --out FILE [--events]
    intake-central --home DIR export --statistics [--out CSV] [--pdf SHEET] [--min-count N]
                                     [--from YYYY-MM-DD] [--to YYYY-MM-DD]
    intake-central --home DIR forms publish FILE --form-id ID --form-version V | forms list
    intake-central --home DIR keys list | keys rotate [--encryption] [--signing]
                                        | keys recovery --out FILE
                                        | keys receiver-copy --out FILE
    intake-central --home DIR quarantine list
    intake-central --home DIR db upgrade | db receiver-role --role NAME [--role-password-file F]

The home folder can also come from ``INTAKE_CENTRAL_HOME``, the passphrase from
``--passphrase-file`` or ``INTAKE_CENTRAL_PASSPHRASE``, the database from
``--database-url``, ``INTAKE_CENTRAL_DATABASE_URL`` or what ``init`` recorded. Errors are
one line on stderr; exit 2 for usage and validation errors, 1 for other failures.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from intake_app import __version__
from intake_app.atomic import atomic_write_bytes
from intake_app.errors import ConflictError, IntakeError, ProfileError, UsageError
from intake_app.figures.disclosure import MIN_COUNT
from intake_app.figures.outcomes import Period
from intake_app.i18n import _, language_from_environment, set_language
from intake_app.sync import keys
from intake_app.sync.batch import MAX_BATCH_BYTES
from intake_app.sync.enrolment import build_confirmation, check_server_url, read_registration
from intake_app.sync.errors import SignatureError
from intake_app.sync.identity import OfficeKeySet, verify_key_set_document
from intake_app.sync.keys import format_fingerprint
from intake_app.sync.transport_folder import write_handover_files

from . import db
from .audit_heads import AuditState, audit_states
from .export import export_events, export_records, export_statistics, export_statistics_pdf
from .forms import publish_form, published_forms
from .handovers import refusal_text, sealed_for, set_recipient
from .home import (
    DATABASE_URL_ENV,
    PASSPHRASE_ENV,
    Home,
    forget_environment_variable,
    read_passphrase,
    read_secret_file,
    remove_logging,
    setup_logging,
)
from .importer import Importer
from .keystore import (
    KeyStore,
    ReceiverKey,
    RootKey,
    publish_key_set,
    read_recovery_key,
    write_recovery_key,
)
from .registry import enrol_device, list_devices, register_device, revoke_device

log = logging.getLogger("intake.central")

HOME_ENV = "INTAKE_CENTRAL_HOME"
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
RECOVERY_PASSPHRASE_ENV = "INTAKE_RECOVERY_PASSPHRASE"
ROOT_PASSPHRASE_ENV = "INTAKE_ROOT_PASSPHRASE"
RECEIVER_PASSPHRASE_ENV = "INTAKE_RECEIVER_PASSPHRASE"


def _transition_end(text: str) -> float:
    """``--old-device-auth-until YYYY-MM-DD``: the end of that day (UTC) as Unix time."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("Datum im Format JJJJ-MM-TT erwartet (expected YYYY-MM-DD): {text}").format(text=text)
        ) from None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return (start + timedelta(days=1)).timestamp()


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line (exit 2 via UsageError)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(_("Aufruf fehlerhaft: {message}").format(message=message))


# -- helpers -------------------------------------------------------------------------------


def _home(args: argparse.Namespace) -> Home:
    root = args.home or os.environ.get(HOME_ENV)
    if not root:
        raise UsageError(_("Bitte --home ORDNER angeben (oder {env} setzen).").format(env=HOME_ENV))
    return Home(Path(root))


def _passphrase(args: argparse.Namespace, *, confirm: bool = False) -> str:
    path = getattr(args, "passphrase_file", None)
    return read_passphrase(Path(path) if path else None, confirm=confirm)


def _root_passphrase(args: argparse.Namespace, *, confirm: bool = False) -> str:
    path = getattr(args, "root_passphrase_file", None)
    return read_passphrase(
        Path(path) if path else None,
        env=ROOT_PASSPHRASE_ENV,
        confirm=confirm,
        prompt=_("Passphrase des Wurzelschlüssels: "),
    )


def _receiver_passphrase(args: argparse.Namespace, *, confirm: bool = False) -> str:
    path = getattr(args, "receiver_passphrase_file", None)
    return read_passphrase(
        Path(path) if path else None,
        env=RECEIVER_PASSPHRASE_ENV,
        confirm=confirm,
        prompt=_("Passphrase des Empfangsservers: "),
    )


def _root(args: argparse.Namespace, home: Home) -> RootKey:
    path = getattr(args, "root_key", None)
    return RootKey(Path(path) if path else home.root_key_path)


def _unlock_root(args: argparse.Namespace, home: Home) -> ec.EllipticCurvePrivateKey:
    return _root(args, home).unlock(_root_passphrase(args))


def _publish(home: Home, store: KeyStore, root_key: ec.EllipticCurvePrivateKey) -> None:
    key_set = publish_key_set(store, root_key=root_key, out=home.key_set_path)
    _out(_("Schlüsselsatz Nr. {serial} veröffentlicht.").format(serial=key_set.serial))


def _distinct(*secrets: str) -> None:
    if len(set(secrets)) != len(secrets):
        raise UsageError(
            _(
                "Wurzelschlüssel, Import und Empfangsserver brauchen verschiedene Passphrasen: "
                "wer den Empfangsserver übernimmt, darf damit nichts anderes öffnen können."
            )
        )


def _engine(args: argparse.Namespace, home: Home) -> Engine:
    return db.open_database(home.database_url(getattr(args, "database_url", None)))


def _keystore(home: Home) -> KeyStore:
    home.require()
    return KeyStore(home.keys_path)


def _out(text: str) -> None:
    print(text)


# -- commands ------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    """Create the home folder, the root key, the importer's and the receiver's keys, the
    first key set and the database schema."""
    home = _home(args)
    if home.exists() or home.keys_path.exists():
        raise ConflictError(_("{home} ist schon eingerichtet.").format(home=home.root))
    root_path = _root(args, home).path
    if root_path.exists():
        raise ConflictError(_("Die Datei {path} gibt es schon.").format(path=root_path))
    root_secret = _root_passphrase(args, confirm=True)
    passphrase = _passphrase(args, confirm=True)
    receiver_secret = _receiver_passphrase(args, confirm=True)
    _distinct(root_secret, passphrase, receiver_secret)
    created_root = not home.root.exists()
    url = getattr(args, "database_url", None) or os.environ.get(DATABASE_URL_ENV) or None
    try:
        home.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        home.make_folders()
        db.upgrade(db.create_db_engine(url or home.default_database_url()))
        _root_store, root_key = RootKey.create(root_path, passphrase=root_secret)
        atomic_write_bytes(
            home.root_public_path,
            keys.public_key_to_pem(root_key.public_key()).encode("ascii"),
        )
        store, office = KeyStore.create(home.keys_path, passphrase=passphrase)
        _receiver, receipt_key = ReceiverKey.create(
            home.receiver_key_path, passphrase=receiver_secret, root_key=root_key
        )
        store.add_receiver_key(receipt_key.public_key())
        publish_key_set(store, root_key=root_key, out=home.key_set_path)
        home.write_config(
            {
                "format": "intake-central",
                "version": 1,
                "database_url": url,
                "created_by": __version__,
            }
        )
    except BaseException:
        if created_root:
            shutil.rmtree(home.root, ignore_errors=True)
        else:
            for path in (
                home.keys_path,
                root_path,
                home.receiver_key_path,
                home.key_set_path,
                home.root_public_path,
            ):
                path.unlink(missing_ok=True)
        raise
    _out(_("Zentrale eingerichtet in {home}.").format(home=home.root))
    _out(_("Verschlüsselungsschlüssel: {kid}").format(kid=office.current_encryption_kid))
    _out(
        _("Wurzelschlüssel (Fingerabdruck für die Geräteanmeldung): {fp}").format(
            fp=format_fingerprint(keys.signing_key_id(root_key.public_key()))
        )
    )
    _out(
        _(
            "Bewahren Sie {root} offline auf (z. B. auf einem verschlüsselten USB-Stick); "
            "der Empfangsserver braucht nur {receiver}, keyset.json und root-public.pem."
        ).format(root=root_path.name, receiver=home.receiver_key_path.name)
    )
    return 0


def cmd_enrol(args: argparse.Namespace) -> int:
    """Write an enrolment file for a new device (signed by the root)."""
    home = _home(args)
    home.require()
    if args.valid_days < 1 or args.valid_days > 90:
        raise UsageError(_("--valid-days muss zwischen 1 und 90 liegen."))
    engine = _engine(args, home)
    root_key = _unlock_root(args, home)
    device = enrol_device(
        engine,
        name=args.device,
        server_url=args.server_url,
        key_set=_published_key_set(home),
        root_key=root_key,
        out=Path(args.out),
        valid_for=timedelta(days=args.valid_days),
    )
    _out(
        _("Registrierungsdatei für »{name}« geschrieben: {out} (gültig bis {until}).").format(
            name=device.name, out=args.out, until=device.token_expires
        )
    )
    _out(
        _("Fingerabdruck der Zentrale: {fp}").format(
            fp=format_fingerprint(keys.signing_key_id(root_key.public_key()))
        )
    )
    return 0


def _published_key_set(home: Home) -> OfficeKeySet:
    """The key set last signed by the root (what devices get on enrolment)."""
    try:
        root = keys.public_key_from_pem(home.root_public_path.read_bytes())
        return verify_key_set_document(home.key_set_path.read_bytes(), root=root)
    except (OSError, ValueError, SignatureError):
        raise ProfileError(
            _(
                "Der Schlüsselsatz der Zentrale (keyset.json) fehlt oder ist nicht gültig. "
                "Veröffentlichen Sie ihn mit »intake-central keys publish«."
            ),
            kind="corrupt",
        ) from None


def cmd_register(args: argparse.Namespace) -> int:
    """Import an offline registration file from a device."""
    home = _home(args)
    store = _keystore(home)
    try:
        data = Path(args.file).read_bytes()
    except OSError:
        raise UsageError(_("Die Datei {path} ist nicht lesbar.").format(path=args.file)) from None
    registration = read_registration(data)
    signing_key = store.unlock(_passphrase(args)).signing_key if args.out else None
    engine = _engine(args, home)
    device = register_device(engine, registration)
    if args.out and signing_key is not None:
        atomic_write_bytes(
            Path(args.out), build_confirmation(registration, signing_key=signing_key)
        )
    _out(_("Gerät »{name}« ist registriert.").format(name=device.name))
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    """List or revoke devices."""
    home = _home(args)
    home.require()
    engine = _engine(args, home)
    if args.devices_command == "revoke":
        device = revoke_device(engine, args.name)
        _out(_("Gerät »{name}« ist gesperrt.").format(name=device.name))
        return 0
    if args.devices_command == "recipient":
        set_recipient(engine, device_name=args.name, recipient=args.recipient, purpose=args.purpose)
        _out(
            _(
                "Gerät »{name}« übernimmt Fälle für die Empfangsstelle „{recipient}“ "
                "(Einwilligungszweck „{purpose}“)."
            ).format(name=args.name, recipient=args.recipient, purpose=args.purpose)
        )
        return 0
    rows = list_devices(engine)
    audit = audit_states(engine)
    _out(
        "\t".join(
            ["name", "device_id", "status", "registered", "revoked", "last_batch", "audit", "key"]
        )
    )
    for d in rows:
        _out(
            "\t".join(
                [
                    d.name,
                    d.device_id,
                    d.status,
                    d.registered_at.isoformat() if d.registered_at else "-",
                    d.revoked_at.isoformat() if d.revoked_at else "-",
                    d.last_batch_at.isoformat() if d.last_batch_at else "-",
                    _audit_cell(audit.get(d.device_id)),
                    _key_cell(d.key_trusted),
                ]
            )
        )
    return 0


def _key_cell(trusted: bool | None) -> str:
    """Whether the registered key is the one the importer trusts (docs/security.md,
    "Device keys the importer trusts"); a mismatch quarantines the device's batches."""
    if trusted is None:
        return "-"
    return "ok" if trusted else _("SCHLÜSSEL ABWEICHEND (device_key_mismatch)")


def _audit_cell(state: AuditState | None) -> str:
    """The device's audit log as the office knows it (docs/security.md)."""
    if state is None:
        return "-"
    if state.problems:
        kind = _("GEKÜRZT") if state.last_problem == "cut" else _("NEU GESCHRIEBEN")
        return _("{kind}: {n} Befund(e), höchster gesehener Eintrag Nr. {seq}").format(
            kind=kind, n=state.problems, seq=state.highest
        )
    return _("ok bis Nr. {seq}").format(seq=state.highest)


def cmd_handovers(args: argparse.Namespace) -> int:
    """Write the hand-overs sealed for one device into a folder (USB stick)."""
    home = _home(args)
    home.require()
    engine = _engine(args, home)
    documents = sealed_for(engine, device_name=args.device)
    written = write_handover_files(Path(args.out), documents)
    _out(
        _("{n} Übergabe(n) für Gerät »{name}« nach {folder} geschrieben.").format(
            n=len(written), name=args.device, folder=args.out
        )
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the receiver with uvicorn until interrupted (receipt key only)."""
    # Deferred: uvicorn and starlette load only for the receiver, not for the other commands.
    import uvicorn

    from .receiver import Limits, create_app, guarded_protocol, load_receiver

    # Deferred: the worker processes need uvicorn too.
    from .workers import run_workers

    home = _home(args)
    home.require()
    key_file = Path(args.receiver_key) if args.receiver_key else home.receiver_key_path
    receipt_key = ReceiverKey(key_file).unlock(_receiver_passphrase(args))
    # A long-running receiver keeps no passphrase in its environment (/proc/<pid>/environ)
    # nor hands one to a child (docs/central-office.md, passphrases).
    for name in (RECEIVER_PASSPHRASE_ENV, ROOT_PASSPHRASE_ENV, PASSPHRASE_ENV):
        forget_environment_variable(name)
    engine = _engine(args, home)
    handlers = setup_logging(home, to_stderr=True)
    limits = Limits(
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        max_connections=args.max_connections,
        unauthenticated_bytes=args.unauthenticated_mib * 1024 * 1024,
        body_bytes=args.body_mib * 1024 * 1024,
        device_uploads=args.device_uploads,
        device_rate=args.device_rate,
        client_failure_rate=args.client_failure_rate,
        old_device_auth_until=args.old_device_auth_until,
        refusal_log_seconds=args.refusal_log_seconds,
    )
    receiver = load_receiver(
        home,
        engine=engine,
        receipt_key=receipt_key,
        max_batch_bytes=args.max_batch_bytes,
        limits=limits,
    )
    workers = max(1, args.workers)
    log.info("receiver starting on %s:%d (%d worker(s))", args.host, args.port, workers)
    if limits.old_device_auth_until is not None:
        log.info(
            "old device request header (no body named) honoured until %s UTC",
            datetime.fromtimestamp(limits.old_device_auth_until, UTC).isoformat(),
        )
    config = uvicorn.Config(
        create_app(receiver),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
        http=guarded_protocol(limits),
        limit_concurrency=limits.max_connections,
    )
    if workers == 1 or os.name != "posix":
        uvicorn.Server(config).run()
    else:
        code = run_workers(config, workers=workers, engine=engine)
        remove_logging(handlers)
        return code
    remove_logging(handlers)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Decrypt and load stored batches (and batch files from a folder)."""
    home = _home(args)
    store = _keystore(home)
    keys = store.unlock(_passphrase(args))
    decryption = dict(keys.encryption)
    if args.recovery_key:
        secret = read_passphrase(
            Path(args.recovery_passphrase_file) if args.recovery_passphrase_file else None,
            env=RECOVERY_PASSPHRASE_ENV,
            prompt=_("Passphrase des Wiederherstellungsschlüssels: "),
        )
        recovery = read_recovery_key(Path(args.recovery_key), passphrase=secret)
        decryption[recovery.key_id] = recovery
    engine = _engine(args, home)
    importer = Importer(
        home, engine=engine, decryption_keys=decryption, signing_key=keys.signing_key
    )
    outcomes = importer.run(folder=Path(args.from_dir) if args.from_dir else None)
    quarantined = 0
    for outcome in outcomes:
        label = outcome.batch_id or outcome.name
        if outcome.status == "quarantined":
            quarantined += 1
            _out(_("{batch}: Quarantäne ({reason})").format(batch=label, reason=outcome.reason))
        elif outcome.status == "duplicate":
            _out(_("{batch}: schon importiert").format(batch=label))
        else:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(outcome.counts.items())) or "leer"
            _out(_("{batch}: importiert ({counts})").format(batch=label, counts=counts))
        if outcome.audit is not None and outcome.audit.seq == 0:
            _out(
                _(
                    "{batch}: WARNUNG: Das Paket nennt kein Audit-Protokoll mehr, frühere Pakete "
                    "des Geräts schon (die Zentrale kennt Nr. {known}): es wurde gelöscht "
                    "oder unlesbar gemacht."
                ).format(batch=label, known=outcome.audit.known_seq)
            )
        elif outcome.audit is not None:
            text = (
                _(
                    "{batch}: WARNUNG: Das Audit-Protokoll des Geräts wurde gekürzt (das Paket "
                    "nennt Eintrag Nr. {seq}, die Zentrale kennt schon Nr. {known})."
                )
                if outcome.audit.kind == "cut"
                else _(
                    "{batch}: WARNUNG: Das Audit-Protokoll des Geräts wurde neu geschrieben "
                    "(Eintrag Nr. {seq} ist ein anderer als zuvor gemeldet)."
                )
            )
            _out(text.format(batch=label, seq=outcome.audit.seq, known=outcome.audit.known_seq))
        for handover_id, reason in outcome.handovers_refused:
            _out(
                _("{batch}: Übergabe {handover} abgelehnt: {reason}").format(
                    batch=label, handover=handover_id, reason=refusal_text(reason)
                )
            )
    _out(_("{n} Paket(e) bearbeitet, {q} in Quarantäne.").format(n=len(outcomes), q=quarantined))
    return 0


def _period_day(text: str | None, option: str) -> date | None:
    """A day of ``--from``/``--to`` (YYYY-MM-DD), or None when not given."""
    if text is None:
        return None
    try:
        if not _ISO_DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(
            _(
                "{option}: Datum im Format JJJJ-MM-TT erwartet, zum Beispiel 2026-01-01 "
                "(expected a date YYYY-MM-DD, e.g. 2026-01-01): {text}"
            ).format(option=option, text=text)
        ) from None


def _period(args: argparse.Namespace) -> Period:
    """The reporting period of ``--from`` and ``--to`` (both days inclusive)."""
    start = _period_day(args.period_from, "--from")
    end = _period_day(args.period_to, "--to")
    if start is not None and end is not None and start > end:
        raise UsageError(
            _(
                "Der Zeitraum endet vor seinem Anfang: --from {start} liegt nach --to {end} "
                "(the period ends before it starts)."
            ).format(start=start.isoformat(), end=end.isoformat())
        )
    return Period(start, end)


def cmd_export(args: argparse.Namespace) -> int:
    """Write the records CSV or the statistics CSV."""
    if not args.statistics and (args.period_from or args.period_to):
        raise UsageError(_("--from und --to gibt es nur mit --statistics."))
    period = _period(args)
    home = _home(args)
    home.require()
    engine = _engine(args, home)
    if args.statistics:
        if args.min_count < 1:
            raise UsageError(_("--min-count muss mindestens 1 sein."))
        if not args.out and not args.pdf:
            raise UsageError(_("Bitte --out DATEI (CSV) oder --pdf DATEI (Bogen) angeben."))
        if args.out:
            cells = export_statistics(
                engine,
                Path(args.out),
                min_count=args.min_count,
                separator=args.separator,
                period=period,
            )
            _out(_("Statistik mit {n} Zeilen geschrieben: {out}").format(n=cells, out=args.out))
        if args.pdf:
            export_statistics_pdf(
                engine, Path(args.pdf), min_count=args.min_count, lang=args.lang, period=period
            )
            _out(_("Ergebnisbogen geschrieben: {out}").format(out=args.pdf))
        if args.min_count < MIN_COUNT:
            _out(
                _(
                    "Achtung: Zahlen ab {n} werden gezeigt. Nur für die Arbeit in der "
                    "Zentralstelle, nicht zur Weitergabe."
                ).format(n=args.min_count)
            )
        return 0
    if args.pdf:
        raise UsageError(_("--pdf gibt es nur mit --statistics."))
    if not args.out:
        raise UsageError(_("Bitte --out DATEI angeben."))
    if args.events:
        rows, withheld = export_events(engine, Path(args.out), separator=args.separator)
        _out(
            _("{n} Fallereignisse exportiert ({w} ohne Einzelheiten): {out}").format(
                n=rows, w=withheld, out=args.out
            )
        )
        return 0
    rows, withheld = export_records(engine, Path(args.out), separator=args.separator)
    _out(
        _("{n} Datensätze exportiert ({w} ohne personenbezogene Daten): {out}").format(
            n=rows, w=withheld, out=args.out
        )
    )
    return 0


def cmd_forms(args: argparse.Namespace) -> int:
    """Publish a signed form version, or list the published ones."""
    home = _home(args)
    home.require()
    if args.forms_command == "publish":
        form = publish_form(
            home,
            source=Path(args.file),
            form_id=args.form_id,
            version=args.form_version,
            signing_key=_unlock_root(args, home),
        )
        _out(
            _("Formular {form} {version} veröffentlicht.").format(
                form=form.form_id, version=form.version
            )
        )
        return 0
    root = _root(args, home).public_key()
    for form in published_forms(home, trusted={keys.signing_key_id(root): root}):
        _out(f"{form.form_id}\t{form.version}\t{form.published_at}\t{form.sha384[:16]}")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    """List or rotate keys, add a recovery key, write a key file for a receiver host."""
    home = _home(args)
    store = _keystore(home)
    if args.keys_command == "rotate":
        if not (args.encryption or args.signing):
            args.encryption = args.signing = True
        root_key = _unlock_root(args, home)
        new = store.rotate(
            passphrase=_passphrase(args), encryption=args.encryption, signing=args.signing
        )
        for kid in new:
            _out(_("Neuer Schlüssel: {kid}").format(kid=kid))
        _publish(home, store, root_key)
        return 0
    if args.keys_command == "recovery":
        root_key = _unlock_root(args, home)  # only the root may add a recipient
        secret = read_passphrase(
            Path(args.recovery_passphrase_file) if args.recovery_passphrase_file else None,
            env=RECOVERY_PASSPHRASE_ENV,
            confirm=True,
            prompt=_("Neue Passphrase des Wiederherstellungsschlüssels: "),
        )
        public = write_recovery_key(Path(args.out), passphrase=secret)
        store.add_recovery_key(public)
        _out(
            _("Wiederherstellungsschlüssel {kid} geschrieben: {out}").format(
                kid=public.key_id, out=args.out
            )
        )
        _publish(home, store, root_key)
        return 0
    if args.keys_command == "receiver-key":
        root_key = _unlock_root(args, home)
        secret = _receiver_passphrase(args, confirm=True)
        _receiver, receipt_key = ReceiverKey.create(
            Path(args.out), passphrase=secret, root_key=root_key
        )
        kid = store.add_receiver_key(receipt_key.public_key())
        _out(
            _("Schlüssel für einen Empfangsserver {kid} geschrieben: {out}").format(
                kid=kid, out=args.out
            )
        )
        _publish(home, store, root_key)
        return 0
    if args.keys_command == "revoke":
        root_key = _unlock_root(args, home)
        store.revoke_receipt_key(args.kid)
        _out(_("Schlüssel {kid} gesperrt.").format(kid=args.kid))
        _publish(home, store, root_key)
        return 0
    if args.keys_command == "publish":
        root_key = _unlock_root(args, home)
        server_url = check_server_url(args.server_url) if args.server_url else None
        key_set = publish_key_set(
            store, root_key=root_key, out=home.key_set_path, server_url=server_url
        )
        _out(_("Schlüsselsatz Nr. {serial} veröffentlicht.").format(serial=key_set.serial))
        return 0
    root = _root(args, home)
    if root.exists():
        _out(f"root\t{root.kid}\tcurrent\t-")
    for row in store.describe():
        _out(f"{row['kind']}\t{row['kid']}\t{row['status']}\t{row['created']}")
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    """List the quarantined batches with their reasons."""
    home = _home(args)
    home.require()
    engine = _engine(args, home)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.quarantine).order_by(db.quarantine.c.id)).all()
    for row in rows:
        _out(
            "\t".join(
                [
                    row.quarantined_at.isoformat(),
                    row.reason,
                    row.batch_id or "-",
                    row.device_id or "-",
                    row.file_name,
                ]
            )
        )
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    """Upgrade the central schema to this program's version, or set up the receiver's
    database role."""
    home = _home(args)
    home.require()
    if args.db_command == "receiver-role":
        password = (
            read_secret_file(Path(args.role_password_file)) if args.role_password_file else None
        )
        engine = _engine(args, home)
        schema = db.set_up_receiver_role(engine, args.role, password=password)
        engine.dispose()
        _out(
            _(
                "Rolle »{role}« für den Empfangsserver eingerichtet (Schema {schema}): "
                "Geräte lesen, Pakete speichern; keine Rechte an Datensätzen."
            ).format(role=args.role, schema=schema)
        )
        return 0
    db.upgrade(db.create_db_engine(home.database_url(getattr(args, "database_url", None))))
    _out(_("Datenbank auf Stand {rev}.").format(rev=db.head_revision()))
    return 0


# -- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--passphrase-file", default=argparse.SUPPRESS, metavar="FILE")
    common.add_argument("--root-passphrase-file", default=argparse.SUPPRESS, metavar="FILE")
    common.add_argument("--receiver-passphrase-file", default=argparse.SUPPRESS, metavar="FILE")
    common.add_argument("--root-key", default=argparse.SUPPRESS, metavar="FILE")
    common.add_argument("--database-url", default=argparse.SUPPRESS, metavar="URL")
    parser = _Parser(prog="intake-central", description=_("Zentrale von Intake"))
    parser.add_argument("--home", metavar="DIR")
    parser.add_argument("--passphrase-file", metavar="FILE")
    parser.add_argument("--root-passphrase-file", metavar="FILE")
    parser.add_argument("--receiver-passphrase-file", metavar="FILE")
    parser.add_argument("--root-key", metavar="FILE")
    parser.add_argument("--database-url", metavar="URL")
    parser.add_argument("--version", action="version", version=f"intake-central {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("init", parents=[common])
    p.set_defaults(func=cmd_init)
    p = sub.add_parser("enrol", parents=[common])
    p.add_argument("--device", required=True, metavar="NAME")
    p.add_argument("--server-url", required=True, metavar="URL")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--valid-days", type=int, default=7)
    p.set_defaults(func=cmd_enrol)
    p = sub.add_parser("register", parents=[common])
    p.add_argument("file")
    p.add_argument("--out", metavar="CONFIRMATION")
    p.set_defaults(func=cmd_register)

    p = sub.add_parser("devices", parents=[common])
    dsub = p.add_subparsers(dest="devices_command", required=True, parser_class=_Parser)
    dsub.add_parser("list", parents=[common])
    revoke = dsub.add_parser("revoke", parents=[common])
    revoke.add_argument("name")
    recipient = dsub.add_parser("recipient", parents=[common])
    recipient.add_argument("name")
    recipient.add_argument("recipient")
    recipient.add_argument("--purpose", required=True)
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("handovers", parents=[common])
    hsub = p.add_subparsers(dest="handovers_command", required=True, parser_class=_Parser)
    export_handovers = hsub.add_parser("export", parents=[common])
    export_handovers.add_argument("--device", required=True, metavar="NAME")
    export_handovers.add_argument("--out", required=True, metavar="DIR")
    p.set_defaults(func=cmd_handovers)

    p = sub.add_parser("serve", parents=[common])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8470)
    p.add_argument("--max-batch-bytes", type=int, default=MAX_BATCH_BYTES)
    p.add_argument("--receiver-key", metavar="FILE")
    p.add_argument("--header-timeout", type=float, default=10.0, metavar="SECONDS")
    p.add_argument("--body-timeout", type=float, default=120.0, metavar="SECONDS")
    p.add_argument("--max-connections", type=int, default=200)
    p.add_argument("--unauthenticated-mib", type=int, default=64, metavar="MIB")
    p.add_argument("--device-rate", type=float, default=2.0, metavar="PER_SECOND")
    p.add_argument("--body-mib", type=int, default=256, metavar="MIB")
    p.add_argument("--device-uploads", type=int, default=2, metavar="N")
    p.add_argument("--client-failure-rate", type=float, default=2.0, metavar="PER_SECOND")
    p.add_argument("--refusal-log-seconds", type=float, default=60.0, metavar="SECONDS")
    p.add_argument(
        "--old-device-auth-until", type=_transition_end, default=None, metavar="YYYY-MM-DD"
    )
    p.add_argument("--workers", type=int, default=1, metavar="N")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("import", parents=[common])
    p.add_argument("--from-dir", metavar="DIR")
    p.add_argument("--recovery-key", metavar="FILE")
    p.add_argument("--recovery-passphrase-file", metavar="FILE")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", parents=[common])
    p.add_argument("--out", metavar="FILE")
    p.add_argument("--pdf", metavar="FILE")
    p.add_argument("--lang", choices=["de", "en"], default="de")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--statistics", action="store_true")
    kind.add_argument("--events", action="store_true")
    p.add_argument("--min-count", type=int, default=MIN_COUNT)
    p.add_argument("--separator", choices=[",", ";"], default=",")
    p.add_argument("--from", dest="period_from", metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="period_to", metavar="YYYY-MM-DD")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("forms", parents=[common])
    fsub = p.add_subparsers(dest="forms_command", required=True, parser_class=_Parser)
    publish = fsub.add_parser("publish", parents=[common])
    publish.add_argument("file")
    publish.add_argument("--form-id", required=True)
    publish.add_argument("--form-version", required=True)
    fsub.add_parser("list", parents=[common])
    p.set_defaults(func=cmd_forms)

    p = sub.add_parser("keys", parents=[common])
    ksub = p.add_subparsers(dest="keys_command", required=True, parser_class=_Parser)
    ksub.add_parser("list", parents=[common])
    rotate = ksub.add_parser("rotate", parents=[common])
    rotate.add_argument("--encryption", action="store_true")
    rotate.add_argument("--signing", action="store_true")
    recovery = ksub.add_parser("recovery", parents=[common])
    recovery.add_argument("--out", required=True, metavar="FILE")
    recovery.add_argument("--recovery-passphrase-file", metavar="FILE")
    receiver_key = ksub.add_parser("receiver-key", parents=[common])
    receiver_key.add_argument("--out", required=True, metavar="FILE")
    revoke_key = ksub.add_parser("revoke", parents=[common])
    revoke_key.add_argument("kid")
    publish_keys = ksub.add_parser("publish", parents=[common])
    publish_keys.add_argument("--server-url", metavar="URL")
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("quarantine", parents=[common])
    qsub = p.add_subparsers(dest="quarantine_command", required=True, parser_class=_Parser)
    qsub.add_parser("list", parents=[common])
    p.set_defaults(func=cmd_quarantine)

    p = sub.add_parser("db", parents=[common])
    dbsub = p.add_subparsers(dest="db_command", required=True, parser_class=_Parser)
    dbsub.add_parser("upgrade", parents=[common])
    role = dbsub.add_parser("receiver-role", parents=[common])
    role.add_argument("--role", required=True, metavar="NAME")
    role.add_argument("--role-password-file", metavar="FILE")
    p.set_defaults(func=cmd_db)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``intake-central``; returns the exit code."""
    if os.name == "posix":
        # Everything the office writes (keys, database, locks, logs, batches, exports) is
        # for the office account alone, whatever umask the shell set.
        os.umask(0o077)
    set_language(language_from_environment())
    parser = build_parser()
    handlers: list[logging.Handler] = []
    try:
        args = parser.parse_args(argv)
        if args.home or os.environ.get(HOME_ENV):
            home = _home(args)
            if home.exists() and args.command != "serve":
                handlers = setup_logging(home)
        result: Any = args.func(args)
        return int(result or 0)
    except IntakeError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except SQLAlchemyError as exc:
        log.error("database error: %s", type(exc).__name__)
        print(str(db.unreachable(exc)), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(_("Abgebrochen."), file=sys.stderr)
        return 130
    except Exception:
        log.exception("unexpected error in intake-central")
        print(_("Unerwarteter Fehler. Details stehen im Protokoll der Zentrale."), file=sys.stderr)
        return 1
    finally:
        remove_logging(handlers)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
