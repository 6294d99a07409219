"""Static checks of asterisk_conf/: security, queue, hours, RS holidays, voicemail, compose."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.integration.asterisk_conf.asterisk_conf_reader import Context, Pjsip, Section

LoadConf = Callable[[str], list[Section]]

SARAJEVO = ZoneInfo("Europe/Sarajevo")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
PLACEHOLDER = re.compile(r"^CHANGE_ME_S48_[A-Z0-9_]+$")

# AMI events and actions the connector (issue 3) relies on; README.md must explain each.
CONNECTOR_EVENTS = (
    "Newchannel",
    "Newstate",
    "NewCallerid",
    "NewConnectedLine",
    "DialBegin",
    "DialEnd",
    "AgentCalled",
    "AgentConnect",
    "AgentComplete",
    "AgentRingNoAnswer",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "BridgeEnter",
    "BridgeLeave",
    "BlindTransfer",
    "AttendedTransfer",
    "Hangup",
    "MessageWaiting",
    "OriginateResponse",
    "FullyBooted",
    "Shutdown",
)
LIST_RESPONSE_EVENTS = (
    "CoreShowChannel",
    "CoreShowChannelsComplete",
    "QueueParams",
    "QueueMember",
    "QueueEntry",
    "QueueStatusComplete",
)
CONNECTOR_ACTIONS = ("Login", "Ping", "CoreShowChannels", "QueueStatus", "Originate", "Logoff")


def orthodox_easter(year: int) -> date:
    """Return Orthodox Easter Sunday (Gregorian date) by Meeus' Julian algorithm."""
    a, b, c = year % 4, year % 7, year % 19
    d = (19 * c + 15) % 30
    e = (2 * a + 4 * b - d + 34) % 7
    month, day = divmod(d + e + 114, 31)
    julian_to_gregorian = year // 100 - year // 400 - 2  # 13 days in 1900-2099
    return date(year, month, day + 1) + timedelta(days=julian_to_gregorian)


def rs_closed_days(year: int) -> dict[date, str]:
    """Return the days the call centre is closed by law or Orthodox holiday (independent list)."""
    easter = orthodox_easter(year)
    return {
        date(year, 1, 1): "Nova godina",
        date(year, 1, 2): "Nova godina",
        date(year, 1, 6): "Badnji dan (pravoslavni)",
        date(year, 1, 7): "Božić (pravoslavni)",
        date(year, 1, 9): "Dan Republike",
        date(year, 5, 1): "Praznik rada",
        date(year, 5, 2): "Praznik rada",
        date(year, 5, 9): "Dan pobjede nad fašizmom",
        date(year, 11, 21): "Dan uspostavljanja Opšteg okvirnog sporazuma za mir u BiH",
        easter - timedelta(days=2): "Veliki petak (pravoslavni)",
        easter + timedelta(days=1): "Vaskrsni ponedjeljak (pravoslavni)",
    }


def split_goto_if_time(data: str) -> tuple[list[str], str]:
    """Split ``times,weekdays,mdays,months,tz?target`` into the five fields and the target."""
    condition, _, target = data.partition("?")
    fields = condition.split(",")
    assert len(fields) == 5, f"GotoIfTime needs 4 fields plus the time zone: {data}"
    return fields, target


def in_range(value: int, spec: str, names: tuple[str, ...] | None = None) -> bool:
    """Evaluate one GotoIfTime field (``*``, ``a`` or ``a-b``, names or numbers, inclusive)."""
    if spec == "*":
        return True

    def number(token: str) -> int:
        """Map a day/month name or a number to its ordinal."""
        return names.index(token) if names else int(token)

    low, _, high = spec.partition("-")
    start, end = number(low), number(high or low)
    return start <= value <= end if start <= end else value >= start or value <= end


def time_matches(fields: list[str], when: datetime) -> bool:
    """Evaluate GotoIfTime fields like main/pbx_timing.c: whole minutes, end minute inclusive."""
    times, weekdays, mdays, months, tz = fields
    assert tz == "Europe/Sarajevo", "times must be evaluated in the municipality's zone"
    local = when.astimezone(ZoneInfo(tz))
    if times != "*":
        start, end = (int(h) * 60 + int(m) for h, m in (t.split(":") for t in times.split("-")))
        if not start <= local.hour * 60 + local.minute <= end:
            return False
    return (
        in_range(local.weekday(), weekdays, WEEKDAYS)
        and in_range(local.day, mdays)
        and in_range(local.month - 1, months, MONTHS)
    )


def route(dialplan: dict[str, Context], when: datetime) -> str:
    """Interpret ``[sistem48-ulaz] s`` at ``when`` and return the label it jumps to."""
    moving = {s.exten for s in dialplan["sistem48-praznici-pokretni"].steps}
    for step in dialplan["sistem48-ulaz"].extension("s"):
        if step.app in ("NoOp", "Set", "ExecIf"):
            continue
        if step.app == "GotoIfTime":
            fields, target = split_goto_if_time(step.data)
            if time_matches(fields, when):
                return target.split(",")[0]
        elif step.app == "GotoIf" and "DB_EXISTS(sistem48/zatvoreno)" in step.data:
            continue  # the supervisor's switch is off in these cases
        elif step.app == "GotoIf" and "DIALPLAN_EXISTS(sistem48-praznici-pokretni" in step.data:
            if when.astimezone(SARAJEVO).strftime("%Y%m%d") in moving:
                return step.data.partition("?")[2].split(",")[0]
        elif step.app == "Goto":
            return step.data.split(",")[0]
        else:
            pytest.fail(f"teach this interpreter about {step.app}({step.data})")
    pytest.fail("[sistem48-ulaz] s falls off the end")


def pattern_matches(pattern: str, number: str) -> bool:
    """Match an Asterisk extension pattern (``_`` with X Z N [..] . !) or a literal."""
    if not pattern.startswith("_"):
        return pattern == number
    regex = ""
    for token in re.findall(r"\[[^\]]+\]|.", pattern[1:]):
        regex += {
            "X": "[0-9]",
            "Z": "[1-9]",
            "N": "[2-9]",
            ".": ".+",
            "!": ".*",
        }.get(token, token if token.startswith("[") else re.escape(token))
    return re.fullmatch(regex, number) is not None


# --------------------------------------------------------------------------- manager.conf


def test_manager_user_is_least_privilege(load_conf: LoadConf) -> None:
    """The AMI user reads only system/call/agent and writes only originate/reporting."""
    (user,) = [s for s in load_conf("manager.conf") if s.name == "sistem48"]
    read = set(user.need("read").split(","))
    write = set(user.need("write").split(","))
    assert "all" not in read
    assert "all" not in write
    assert read == {"system", "call", "agent"}
    assert write == {"originate", "reporting"}
    assert not write & {"system", "command", "config", "agi", "all"}


def test_manager_user_has_deny_all_then_permit_loopback(load_conf: LoadConf) -> None:
    """Deny everything first, then permit only the connector's (loopback) address."""
    (user,) = [s for s in load_conf("manager.conf") if s.name == "sistem48"]
    keys = [k for k, _ in user.items if k in ("deny", "permit")]
    assert user.getall("deny") == ["0.0.0.0/0.0.0.0"]
    assert user.getall("permit") == ["127.0.0.1/255.255.255.255"]
    assert keys.index("deny") < keys.index("permit"), "last matching rule wins: deny must come first"


def test_manager_general_is_loopback_and_hardened(load_conf: LoadConf) -> None:
    """AMI binds to loopback, limits unauthenticated sessions and disables noise globally."""
    (general,) = [s for s in load_conf("manager.conf") if s.name == "general"]
    assert general.get("enabled") == "yes"
    assert general.get("bindaddr") == "127.0.0.1"
    assert general.get("webenabled") == "no"
    assert int(general.need("authtimeout")) <= 30
    assert int(general.need("authlimit")) <= 10
    assert general.get("allowmultiplelogin") == "yes", "a reconnect must not be refused while the old session hangs"
    assert {"Newexten", "VarSet"} <= set(general.need("disabledevents").split(","))


def test_manager_writetimeout_and_secret(load_conf: LoadConf) -> None:
    """Writetimeout is raised from the 100 ms default and the secret is a placeholder."""
    (user,) = [s for s in load_conf("manager.conf") if s.name == "sistem48"]
    assert 500 <= int(user.need("writetimeout")) <= 5000
    assert PLACEHOLDER.match(user.need("secret"))


def test_manager_eventfilter_includes_exactly_the_connector_events(load_conf: LoadConf) -> None:
    """The include filters name every event the connector handles, and nothing else."""
    (user,) = [s for s in load_conf("manager.conf") if s.name == "sistem48"]
    included = set()
    for key, value in user.items:
        if not key.startswith("eventfilter"):
            continue
        include = re.fullmatch(r"eventfilter\(action\(include\),name\((\w+)\)\)", key)
        if include:
            assert value == ""
            included.add(include[1])
        else:
            assert key == "eventfilter(action(exclude),header(Channel),method(starts_with))"
            assert value == "Local/"
    assert included == set(CONNECTOR_EVENTS)
    assert not included & {"VarSet", "Newexten", "RTCPSent", "RTCPReceived", "UserEvent"}


# --------------------------------------------------------------------------- queues.conf


def test_queue_is_ringall_with_three_operators(load_conf: LoadConf) -> None:
    """Queue operateri rings all three operator phones at once."""
    (queue,) = [s for s in load_conf("queues.conf") if s.name == "operateri"]
    assert queue.get("strategy") == "ringall"
    members = [m.split(",") for m in queue.getall("member")]
    assert [m[0] for m in members] == ["PJSIP/201", "PJSIP/202", "PJSIP/203"]
    assert [m[2] for m in members] == ["201", "202", "203"], "MemberName = extension, for the connector"
    assert queue.get("ringinuse") == "no"
    assert "paused" in queue.need("joinempty").split(",")


def test_queue_has_no_options_removed_before_asterisk_20(load_conf: LoadConf) -> None:
    """Options removed in Asterisk 12 (Agent* events are always sent now) are not used."""
    keys = {k for s in load_conf("queues.conf") for k, _ in s.items}
    assert not keys & {"eventwhencalled", "eventmemberstatus", "monitor-join"}


# --------------------------------------------------------------------------- voicemail.conf


def test_voicemail_formats_and_limits(load_conf: LoadConf) -> None:
    """Voicemail records wav49 and wav, has limits, sends no e-mail and keeps mailbox 4800."""
    sections = {s.name: s for s in load_conf("voicemail.conf")}
    general = sections["general"]
    assert {"wav49", "wav"} <= set(general.need("format").split("|"))
    assert int(general.need("maxmsg")) >= 100
    assert 60 <= int(general.need("maxsecs")) <= 600
    assert general.get("serveremail") is None
    assert general.get("attach") == "no"
    pin, name, email, *_ = sections["sistem48"].need("4800").split(",")
    assert PLACEHOLDER.match(pin)
    assert name
    assert email == "", "no e-mail from Asterisk: messages reach staff as draft tickets"


# --------------------------------------------------------------------------- extensions.conf: hours


def test_office_hours_end_at_14_59(dialplan: dict[str, Context]) -> None:
    """Every timed GotoIfTime is 07:00-14:59 Mon-Fri (the end minute is inclusive)."""
    timed = []
    for ctx in dialplan.values():
        for step in ctx.steps:
            if step.app == "GotoIfTime":
                fields, _ = split_goto_if_time(step.data)
                if fields[0] != "*":
                    timed.append(fields)
    assert timed, "no office-hours GotoIfTime found"
    for times, weekdays, *_ in timed:
        assert times.endswith(":59"), f"{times}: end minute is inclusive, 15:00 would mean 15:00:59"
        assert times == "07:00-14:59"
        assert weekdays == "mon-fri"


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-03-02 06:59", "zatvoreno"),
        ("2026-03-02 07:00", "otvoreno"),
        ("2026-03-02 14:59", "otvoreno"),
        ("2026-03-02 15:00", "zatvoreno"),
        ("2026-03-06 10:00", "otvoreno"),
        ("2026-03-07 10:00", "zatvoreno"),
        ("2026-03-08 10:00", "zatvoreno"),
        ("2026-01-02 10:00", "zatvoreno"),
        ("2026-01-07 10:00", "zatvoreno"),
        ("2026-01-08 10:00", "otvoreno"),
        ("2026-01-09 10:00", "zatvoreno"),
        ("2026-04-10 10:00", "zatvoreno"),
        ("2026-04-13 10:00", "zatvoreno"),
        ("2026-04-14 10:00", "otvoreno"),
        ("2026-05-01 10:00", "zatvoreno"),
        ("2026-05-04 10:00", "otvoreno"),
        ("2026-11-20 10:00", "otvoreno"),
        ("2026-12-25 10:00", "otvoreno"),
        ("2026-07-01 14:59", "otvoreno"),
        ("2027-04-30 10:00", "zatvoreno"),
        ("2027-05-03 10:00", "zatvoreno"),
        ("2027-05-04 10:00", "otvoreno"),
    ],
)
def test_routing_at_sample_times(dialplan: dict[str, Context], local: str, expected: str) -> None:
    """The incoming-call logic sends each sample Sarajevo time to the expected branch."""
    when = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=SARAJEVO)
    assert route(dialplan, when) == expected


def test_routing_uses_sarajevo_time_not_utc(dialplan: dict[str, Context]) -> None:
    """08:30 UTC on a summer weekday is 10:30 in Kotor Varoš: open; 13:30 UTC is 15:30: closed."""
    assert route(dialplan, datetime(2026, 7, 1, 8, 30, tzinfo=ZoneInfo("UTC"))) == "otvoreno"
    assert route(dialplan, datetime(2026, 7, 1, 13, 30, tzinfo=ZoneInfo("UTC"))) == "zatvoreno"


# --------------------------------------------------------------------------- extensions.conf: holidays


def configured_closed_days(dialplan: dict[str, Context], year: int) -> set[date]:
    """Expand the all-day GotoIfTime closures and the dated holiday extensions for ``year``."""
    days = set()
    for step in dialplan["sistem48-ulaz"].extension("s"):
        if step.app != "GotoIfTime":
            continue
        fields, target = split_goto_if_time(step.data)
        if fields[0] != "*":
            continue
        assert target == "zatvoreno,1"
        day = date(year, 1, 1)
        while day.year == year:
            noon = datetime(day.year, day.month, day.day, 12, tzinfo=SARAJEVO)
            if time_matches(fields, noon):
                days.add(day)
            day += timedelta(days=1)
    for step in dialplan["sistem48-praznici-pokretni"].steps:
        dated = datetime.strptime(step.exten, "%Y%m%d").replace(tzinfo=SARAJEVO).date()
        if dated.year == year:
            days.add(dated)
    return days


@pytest.mark.parametrize("year", [2026, 2027])
def test_every_closed_day_is_a_real_rs_holiday(dialplan: dict[str, Context], year: int) -> None:
    """Each configured closed day is a RS holiday, and no RS holiday is missing."""
    expected = rs_closed_days(year)
    configured = configured_closed_days(dialplan, year)
    assert configured - expected.keys() == set(), "closed on a day that is not an RS holiday"
    missing = {d.isoformat(): expected[d] for d in expected.keys() - configured}
    assert missing == {}, "RS holiday not configured"


def test_orthodox_easter_reference_dates() -> None:
    """The independent Easter computation agrees with the published dates."""
    assert orthodox_easter(2026) == date(2026, 4, 12)
    assert orthodox_easter(2027) == date(2027, 5, 2)
    assert orthodox_easter(2024) == date(2024, 5, 5)


def test_holiday_table_covers_its_declared_years(
    dialplan: dict[str, Context], dialplan_globals: dict[str, str]
) -> None:
    """[sistem48-praznici-pokretni] has Easter dates for every year up to SISTEM48_HOLIDAYS_UNTIL."""
    until = int(dialplan_globals["SISTEM48_HOLIDAYS_UNTIL"])
    years = {int(s.exten[:4]) for s in dialplan["sistem48-praznici-pokretni"].steps}
    assert years == set(range(2026, until + 1))


# --------------------------------------------------------------------------- extensions.conf: flow


def test_closed_and_busy_paths_go_to_mailbox_4800(dialplan: dict[str, Context]) -> None:
    """After hours uses the unavailable greeting, queue failure the busy greeting, both box 4800."""
    ulaz = dialplan["sistem48-ulaz"]
    assert [s.data for s in ulaz.extension("zatvoreno") if s.app == "VoiceMail"] == ["4800@sistem48,u"]
    assert [s.data for s in ulaz.extension("zauzeto") if s.app == "VoiceMail"] == ["4800@sistem48,b"]
    (queue,) = [s for s in ulaz.extension("otvoreno") if s.app == "Queue"]
    name, options, *_, timeout = queue.data.split(",")
    assert name == "operateri"
    assert "C" not in options, "C would report abandoned calls as answered elsewhere"
    assert "T" not in options, "an outside caller must not get a transfer feature"
    assert timeout == "${SISTEM48_QUEUE_WAIT}"


def test_queue_fallback_only_on_real_failures_and_quoted(dialplan: dict[str, Context]) -> None:
    """Voicemail after Queue only for TIMEOUT/FULL/EMPTY/UNAVAIL, with quoted comparisons."""
    checks = [s for s in dialplan["sistem48-ulaz"].extension("otvoreno") if s.app == "GotoIf"]
    statuses = set()
    for step in checks:
        match = re.fullmatch(r'\$\["\$\{QUEUESTATUS\}" = "(\w+)"\]\?zauzeto,1', step.data)
        assert match, step.data
        statuses.add(match[1])
    assert statuses == {"TIMEOUT", "FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL"}
    assert dialplan["sistem48-ulaz"].extension("otvoreno")[-1].app == "Hangup"


def reachable_contexts(dialplan: dict[str, Context], start: str) -> set[str]:
    """Return the contexts reachable from ``start`` through Goto/GotoIf/Gosub targets and includes."""
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        ctx = dialplan[name]
        todo.extend(ctx.includes)
        for step in ctx.steps:
            if step.app.startswith(("Goto", "Gosub")):
                for target in re.findall(r"([\w-]+),[^,()?:]+,[\w()]+", step.data):
                    if target in dialplan:
                        todo.append(target)
    return seen


def test_trunk_cannot_reach_an_outgoing_dial(dialplan: dict[str, Context], pjsip: Pjsip) -> None:
    """Nothing a caller from outside sends can reach Dial() (toll fraud)."""
    trunk = pjsip.section("sistem48-trunk", "endpoint")
    start = pjsip.need(trunk, "context")
    reachable = reachable_contexts(dialplan, start)
    assert "sistem48-povratni" not in reachable
    assert "sistem48-trunk-izlaz" not in reachable
    dials = [(c, s.data) for c in reachable for s in dialplan[c].steps if s.app == "Dial"]
    assert dials == []


@pytest.mark.parametrize(
    ("number", "allowed"),
    [
        ("065435411", True),
        ("+38765435411", True),
        ("051785266", True),
        ("+38751785266", True),
        ("0644123456", True),
        ("0038765123456", False),
        ("+4930123456", False),
        ("090123456", False),
        ("080050050", False),
        ("123", False),
        ("065;System(id)", False),
    ],
)
def test_callback_context_allows_only_bih_numbers(dialplan: dict[str, Context], number: str, allowed: bool) -> None:
    """The Originate target dials BiH fixed/mobile numbers only."""
    patterns = {s.exten for s in dialplan["sistem48-povratni"].steps} - {"i"}
    assert any(pattern_matches(p, number) for p in patterns) is allowed


def test_callback_dials_trunk_with_landline_caller_id(
    dialplan: dict[str, Context], dialplan_globals: dict[str, str]
) -> None:
    """The outgoing leg presents 051/785-266 and dials the PJSIP trunk."""
    steps = dialplan["sistem48-trunk-izlaz"].extension("s")
    sets = [s.data for s in steps if s.app == "Set"]
    assert "CALLERID(num)=${SISTEM48_CID_NUM}" in sets
    assert dialplan_globals["SISTEM48_CID_NUM"] == "051785266"
    (dial,) = [s.data for s in steps if s.app == "Dial"]
    assert dial.startswith("PJSIP/${BROJ}@${SISTEM48_TRUNK},")
    assert dialplan_globals["SISTEM48_TRUNK"] == "sistem48-trunk"
    assert any(s.app == "Set" and s.data.startswith("BROJ=${FILTER(0-9,") for s in steps)


def test_operators_can_dial_each_other(dialplan: dict[str, Context]) -> None:
    """Extensions 201-203 and 209 are reachable from the operators' context."""
    patterns = {s.exten for s in dialplan["sistem48-operateri"].steps}
    for ext in ("201", "202", "203", "209"):
        assert any(pattern_matches(p, ext) for p in patterns), ext
    assert not any(pattern_matches(p, "204") for p in patterns)


# --------------------------------------------------------------------------- pjsip.conf


def test_softphones_and_supervisor(pjsip: Pjsip, dialplan: dict[str, Context]) -> None:
    """201-203 and 209 exist with auth and a one-contact AOR, in contexts that exist."""
    for ext in ("201", "202", "203", "209"):
        endpoint = pjsip.section(ext, "endpoint")
        assert pjsip.value(endpoint, "auth") == ext
        assert pjsip.value(endpoint, "aors") == ext
        assert pjsip.value(endpoint, "direct_media") == "no"
        context = pjsip.value(endpoint, "context")
        assert context == ("sistem48-nadzornik" if ext == "209" else "sistem48-operateri")
        assert context in dialplan
        assert pjsip.value(pjsip.section(ext, "aor"), "max_contacts") == "1"
        auth = pjsip.section(ext, "auth")
        assert pjsip.value(auth, "username") == ext
        assert PLACEHOLDER.match(pjsip.need(auth, "password"))


def test_trunk_for_the_landline(pjsip: Pjsip, dialplan: dict[str, Context]) -> None:
    """The trunk registers, authenticates from placeholders and lands in the trunk context."""
    endpoint = pjsip.section("sistem48-trunk", "endpoint")
    assert pjsip.value(endpoint, "context") in dialplan
    assert pjsip.value(endpoint, "outbound_auth") == "sistem48-trunk-auth"
    registration = pjsip.section("sistem48-trunk", "registration")
    assert registration.get("contact_user") == "051785266"
    assert "CHANGE_ME_S48_SIP_TRUNK_HOST" in registration.need("server_uri")
    auth = pjsip.section("sistem48-trunk-auth", "auth")
    assert PLACEHOLDER.match(auth.need("username"))
    assert PLACEHOLDER.match(auth.need("password"))
    assert pjsip.section("sistem48-trunk", "identify").get("endpoint") == "sistem48-trunk"


def test_transports_and_no_anonymous_endpoint(pjsip: Pjsip) -> None:
    """UDP and TCP transports exist; no endpoint may be reached anonymously or via default."""
    protocols = {pjsip.value(t, "protocol") for t in pjsip.objects("transport")}
    assert protocols == {"udp", "tcp"}
    names = {e.name for e in pjsip.objects("endpoint")}
    assert "anonymous" not in names
    assert all(pjsip.value(e, "context") != "default" for e in pjsip.objects("endpoint"))


# --------------------------------------------------------------------------- all files


def test_no_secret_is_committed(conf_dir: Path) -> None:
    """Every secret-bearing option in every config is a CHANGE_ME_S48_* placeholder."""
    secret_keys = ("secret", "password", "md5_cred")
    found = 0
    for path in sorted(conf_dir.glob("*.conf")):
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.split(";")[0].partition("=")
            if sep and key.strip() in secret_keys:
                found += 1
                assert PLACEHOLDER.match(value.strip()), f"{path.name}: {line}"
    assert found >= 6


def test_placeholders_are_documented(conf_dir: Path) -> None:
    """Every placeholder's environment variable is named in the README and the compose snippet."""
    names = set()
    for path in conf_dir.glob("*.conf"):
        names |= set(re.findall(r"CHANGE_ME_(S48_[A-Z0-9_]+)", path.read_text(encoding="utf-8")))
    readme = (conf_dir / "README.md").read_text(encoding="utf-8")
    compose = (conf_dir / "compose-service.yml").read_text(encoding="utf-8")
    assert names
    for name in sorted(names):
        assert name in readme, name
        assert name in compose, name


def test_readme_lists_every_event_and_action(conf_dir: Path) -> None:
    """README.md explains each AMI event and action the connector relies on."""
    readme = (conf_dir / "README.md").read_text(encoding="utf-8")
    for name in CONNECTOR_EVENTS + LIST_RESPONSE_EVENTS + CONNECTOR_ACTIONS:
        assert f"`{name}`" in readme, name


def test_compose_service_snippet(conf_dir: Path) -> None:
    """The compose snippet pins the image, uses host networking and never publishes AMI."""
    text = (conf_dir / "compose-service.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s+image: andrius/asterisk:2[02]\.\d+\.\d+_debian-\w+$", text, re.M)
    assert re.search(r"^\s+network_mode: host$", text, re.M)
    assert not re.search(r"^\s+ports:", text, re.M), "ports are ignored with host networking"
    assert "./asterisk_conf:/etc/asterisk-sistem48:ro" in text
    assert "docker-entrypoint.sh" in text
    assert "\t" not in text
