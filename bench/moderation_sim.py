"""A traffic simulator for the moderation bot: benign people and attackers against a live
Tessera, each from its own loopback address (all of 127.0.0.0/8 is local on Linux).

Benign: people at human pace (a sync long-poll running, a message every 10-60 s, typing,
receipts, now and then a profile or directory lookup, sometimes a mistyped password), offices
of several people behind one NAT address, a busy notification bot posting templated messages
with links every 1-2 s, and newcomers signing up. Attackers: credential stuffing (fast,
password spraying, slow-and-low at one try every ~20 s), registration floods (bursts, steady,
human-looking slow sign-ups), spam (floods of mutated link messages, slow spam, invite spam
after harvesting the user directory) and scrapers (room directory paging with alias probes,
profile enumeration).

`simulate` returns the actors with their labels; everything random comes from one seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import string
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

C3 = "/_matrix/client/v3"
PASSWORD = "benign password 1234"  # noqa: S105 (the simulated accounts)
_TIMEOUT = aiohttp.ClientTimeout(total=60)

ATTACKS = (
    "stuff_fast",
    "stuff_spray",
    "stuff_slow",
    "reg_burst",
    "reg_steady",
    "reg_slow",
    "spam_flood",
    "spam_slow",
    "invite_spam",
    "scrape_directory",
    "scrape_profiles",
)
_WORDS = [
    "meeting",
    "lunch",
    "design",
    "review",
    "deploy",
    "the",
    "a",
    "we",
    "are",
    "later",
    "today",
    "tomorrow",
    "coffee",
    "budget",
    "plan",
    "report",
    "draft",
    "ticket",
    "merge",
    "branch",
    "release",
    "notes",
    "kids",
    "weekend",
    "football",
    "train",
    "late",
    "thanks",
    "sure",
    "okay",
    "great",
    "idea",
    "let's",
    "call",
    "after",
    "please",
    "check",
    "slides",
    "numbers",
    "team",
    "office",
]
_SPAM = (
    "Cheap meds without prescription at {url} order now",
    "You won a free phone! Claim it at {url} before it expires",
    "Earn 5000 dollars a week from home, see {url}",
    "Hot crypto presale, 100x guaranteed: {url}",
)
_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5"}


@dataclass
class Actor:
    """One source address and what it is."""

    ip: str
    category: str
    label: int
    users: list[str] = field(default_factory=list)


@dataclass
class World:
    """What the simulated people share: the server, accounts, rooms."""

    base: str
    server_name: str
    rng: random.Random
    deadline: float
    accounts: list[str] = field(default_factory=list)
    rooms: list[str] = field(default_factory=list)
    requests: int = 0

    def url(self, path: str) -> str:
        return f"{self.base}{C3}{path}"


class Session:
    """An HTTP session from one address, optionally logged in."""

    def __init__(self, world: World, http: aiohttp.ClientSession) -> None:
        self.world = world
        self.http = http
        self.token: str | None = None
        self.user_id: str | None = None

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        self.world.requests += 1
        try:
            async with self.http.request(
                method, self.world.url(path), json=body, headers=headers
            ) as resp:
                return resp.status, await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return 0, {}

    async def register(self, username: str, password: str = PASSWORD) -> bool:
        body: dict[str, Any] = {"username": username, "password": password}
        status, first = await self.call("POST", "/register", body)
        if status != 401 or "session" not in first:
            return False
        body["auth"] = {"type": "m.login.dummy", "session": first["session"]}
        status, done = await self.call("POST", "/register", body)
        if status == 200:
            self.token, self.user_id = done["access_token"], done["user_id"]
        return status == 200

    async def login(self, user: str, password: str = PASSWORD, *, patient: bool = False) -> bool:
        """Log in; a `patient` client (a person's) waits out a 429 and tries again."""
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
        }
        for _ in range(5 if patient else 1):
            status, done = await self.call("POST", "/login", body)
            if status != 429 or not patient:
                break
            wait = int(done.get("retry_after_ms", 5000)) / 1000
            if not await _sleep_until(self.world, wait + self.world.rng.uniform(0, 2)):
                break
        if status == 200:
            self.token, self.user_id = done["access_token"], done["user_id"]
        return status == 200

    async def send(self, room: str, text: str) -> int:
        txn = "".join(self.world.rng.choices(string.ascii_letters, k=12))
        path = f"/rooms/{quote(room)}/send/m.room.message/{txn}"
        status, _ = await self.call("PUT", path, {"msgtype": "m.text", "body": text})
        return status


async def _sleep_until(world: World, seconds: float) -> bool:
    """Sleep; False once the run is over."""
    left = world.deadline - time.monotonic()
    await asyncio.sleep(max(0.0, min(seconds, left)))
    return time.monotonic() < world.deadline


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choices(_WORDS, k=rng.randint(3, 14))).capitalize()


def _mutate(rng: random.Random, text: str) -> str:
    out = []
    for ch in text:
        if ch.lower() in _LEET and rng.random() < 0.25:
            out.append(_LEET[ch.lower()])
        elif rng.random() < 0.05:
            out.append(ch + "\u200b")
        else:
            out.append(ch.upper() if rng.random() < 0.1 else ch)
    tail = rng.choice(["", " 💊", " 🔥🔥", " !!!", " 💰"])
    return "".join(out) + tail


def _spam(rng: random.Random) -> str:
    url = f"https://{rng.choice(['deals', 'win', 'pharma'])}.example/{rng.randrange(10**6)}"
    return _mutate(rng, rng.choice(_SPAM).format(url=url))


# --- benign ------------------------------------------------------------------------------


async def _sync_loop(s: Session) -> None:
    since: str | None = None
    while time.monotonic() < s.world.deadline:
        path = "/sync?timeout=15000" + (f"&since={quote(since)}" if since else "&timeout=0")
        status, body = await s.call("GET", path)
        if status == 200:
            since = body.get("next_batch", since)
        elif not await _sleep_until(s.world, 2):
            return


async def person(s: Session, user: str, rooms: list[str]) -> None:
    """Someone chatting at human pace."""
    w, rng = s.world, s.world.rng
    if not await _sleep_until(w, rng.uniform(0, 20)):
        return
    roll = rng.random()
    for _ in range(2 if roll < 0.05 else 1 if roll < 0.2 else 0):  # mistyped passwords
        await s.login(user, "wrong " + PASSWORD, patient=True)
        await _sleep_until(w, rng.uniform(2, 6))
    if not await s.login(user, patient=True):
        return
    sync = asyncio.create_task(_sync_loop(s))
    try:
        while await _sleep_until(w, rng.uniform(8, 45)):
            room = rng.choice(rooms)
            roll = rng.random()
            if roll < 0.6:
                await s.call(
                    "PUT",
                    f"/rooms/{quote(room)}/typing/{quote(s.user_id or '')}",
                    {"typing": True, "timeout": 5000},
                )
                text = _sentence(rng)
                if rng.random() < 0.1:
                    text += f" https://{rng.choice(['news', 'docs', 'wiki'])}.example/{rng.randrange(999)}"
                await s.send(room, text)
            elif roll < 0.75:
                other = rng.choice(w.accounts)
                await s.call("GET", f"/profile/{quote(other)}")
            elif roll < 0.85:
                await s.call("GET", f"/rooms/{quote(room)}/messages?dir=b&limit=20")
            elif roll < 0.92:
                await s.call(
                    "POST",
                    "/user_directory/search",
                    {"search_term": rng.choice(_WORDS)[:3], "limit": 10},
                )
            else:
                await s.call("GET", "/publicRooms?limit=20")
    finally:
        sync.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sync


async def busy_bot(s: Session, user: str, rooms: list[str]) -> None:
    """A legitimate notification bot: templated messages with links every 1-2 s."""
    w, rng = s.world, s.world.rng
    if not await s.login(user, patient=True):
        return
    sync = asyncio.create_task(_sync_loop(s))
    build = rng.randrange(1000, 5000)
    try:
        while await _sleep_until(w, rng.uniform(1.0, 2.0)):
            build += 1
            state = rng.choice(["passed", "passed", "passed", "failed"])
            text = f"Build #{build} of {rng.choice(['api', 'web', 'sdk'])} {state}: https://ci.example.org/builds/{build}"
            await s.send(rng.choice(rooms), text)
    finally:
        sync.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sync


async def newcomer(s: Session, name: str) -> None:
    """Someone signing up and starting to chat."""
    w, rng = s.world, s.world.rng
    if not await _sleep_until(w, rng.uniform(0, 60)):
        return
    if not await s.register(name):
        return
    await s.call(
        "PUT", f"/profile/{quote(s.user_id or '')}/displayname", {"displayname": name.title()}
    )
    room = rng.choice(w.rooms)
    await s.call("POST", f"/join/{quote(room)}", {})
    await person(s, name, [room])


# --- attackers ---------------------------------------------------------------------------


def _target(w: World) -> str:
    if w.rng.random() < 0.3 and w.accounts:
        return w.rng.choice(w.accounts)
    return w.rng.choice(["admin", "root", "test", "john", "maria", "info", "support"]) + str(
        w.rng.randrange(1000)
    )


async def stuffing(s: Session, gap: tuple[float, float], spray: bool = False) -> None:
    w, rng = s.world, s.world.rng
    names = [*w.accounts, *(f"user{i}" for i in range(200))]
    index = rng.randrange(len(names))
    while await _sleep_until(w, rng.uniform(*gap)):
        if spray:
            index += 1
            await s.login(names[index % len(names)], "Summer2026!")
        else:
            await s.login(_target(w), "".join(rng.choices(string.ascii_letters, k=10)))


async def registrations(s: Session, mode: str) -> None:
    w, rng = s.world, s.world.rng
    prefix = "".join(rng.choices(string.ascii_lowercase, k=5))
    count = 0
    while True:
        if mode == "burst":
            wait = 0.1 if count % 8 else rng.uniform(20, 30)
        elif mode == "steady":
            wait = rng.uniform(4, 6)
        else:
            wait = rng.uniform(25, 45)
        if not await _sleep_until(w, wait):
            return
        count += 1
        sub = Session(w, s.http)
        if await sub.register(f"{prefix}{count}{rng.randrange(1000)}") and mode == "slow":
            await sub.call(
                "PUT",
                f"/profile/{quote(sub.user_id or '')}/displayname",
                {"displayname": prefix.title()},
            )
            await sub.call("POST", f"/join/{quote(rng.choice(w.rooms))}", {})


async def spammer(s: Session, gap: tuple[float, float]) -> None:
    w, rng = s.world, s.world.rng
    name = "".join(rng.choices(string.ascii_lowercase, k=8))
    if not await s.register(name):
        return
    for room in w.rooms:
        await s.call("POST", f"/join/{quote(room)}", {})
    while await _sleep_until(w, rng.uniform(*gap)):
        status = await s.send(rng.choice(w.rooms), _spam(rng))
        if status == 403:  # kicked or banned: a fresh account
            if not await s.register(name + str(rng.randrange(1000))):
                return
            for room in w.rooms:
                await s.call("POST", f"/join/{quote(room)}", {})


async def invite_spammer(s: Session) -> None:
    w, rng = s.world, s.world.rng
    if not await s.register("".join(rng.choices(string.ascii_lowercase, k=8))):
        return
    status, created = await s.call(
        "POST", "/createRoom", {"name": "FREE GIFTS", "preset": "public_chat"}
    )
    room = created.get("room_id") if status == 200 else None
    found: list[str] = []
    for letter in "aeioumnst":
        status, result = await s.call(
            "POST", "/user_directory/search", {"search_term": letter, "limit": 50}
        )
        found += [r["user_id"] for r in result.get("results", [])] if status == 200 else []
        if not await _sleep_until(w, 0.3):
            return
    targets = sorted(set(found) | set(w.accounts))
    rng.shuffle(targets)
    for target in targets:
        if room is None or not await _sleep_until(w, rng.uniform(1.0, 2.5)):
            return
        await s.call("POST", f"/rooms/{quote(room)}/invite", {"user_id": target})


async def scraper(s: Session, profiles: bool) -> None:
    w, rng = s.world, s.world.rng
    since: str | None = None
    n = 0
    while await _sleep_until(w, rng.uniform(0.3, 0.8)):
        n += 1
        if profiles:
            name = rng.choice(w.accounts) if rng.random() < 0.2 else f"@user{n}:{w.server_name}"
            await s.call("GET", f"/profile/{quote(name)}")
        elif n % 3:
            status, page = await s.call(
                "GET", "/publicRooms?limit=5" + (f"&since={quote(since)}" if since else "")
            )
            since = page.get("next_batch") if status == 200 else None
        else:
            await s.call("GET", f"/directory/room/{quote(f'#room{n}:{w.server_name}')}")


# --- the run -----------------------------------------------------------------------------


@dataclass
class Population:
    """How many of each (per run)."""

    solos: int = 14
    offices: int = 2
    office_size: int = 6
    newcomers: int = 4
    bots: int = 1
    per_attack: int = 2


MakeAccount = Callable[[str, str], Awaitable[tuple[str, str]]]
"""Creates an account (localpart, password) directly on the server: (user ID, access token)."""


async def setup_world(
    world: World, population: Population, make_account: MakeAccount
) -> dict[str, list[str]]:
    """Accounts (made directly, as if they existed before) and rooms (made from 127.0.0.1);
    returns each person's rooms."""
    names = [
        f"person{i}" for i in range(population.solos + population.offices * population.office_size)
    ]
    names += [f"notifier{i}" for i in range(population.bots)]
    rooms_of: dict[str, list[str]] = {}
    async with aiohttp.ClientSession(timeout=_TIMEOUT) as http:
        owner = Session(world, http)
        owner.user_id, owner.token = await make_account(
            f"owner{world.rng.randrange(10**6)}", PASSWORD
        )
        for i in range(5):
            _, made = await owner.call(
                "POST",
                "/createRoom",
                {"preset": "public_chat", "name": f"Room {i}", "visibility": "public"},
            )
            world.rooms.append(made["room_id"])
        for name in names:
            member = Session(world, http)
            member.user_id, member.token = await make_account(name, PASSWORD)
            world.accounts.append(member.user_id)
            rooms_of[name] = world.rng.sample(world.rooms, 2)
            for room in rooms_of[name]:
                await member.call("POST", f"/join/{quote(room)}", {})
    return rooms_of


async def simulate(
    base: str,
    server_name: str,
    seed: int,
    duration_s: float,
    make_account: MakeAccount,
    population: Population | None = None,
    *,
    started: Callable[[], Awaitable[None]] | None = None,
) -> list[Actor]:
    """Set up, then run every actor for `duration_s`; returns the actors with their labels."""
    population = population or Population()
    rng = random.Random(seed)
    world = World(base, server_name, rng, deadline=float("inf"))
    rooms_of = await setup_world(world, population, make_account)
    if started is not None:
        await started()
    world.deadline = time.monotonic() + duration_s
    actors: list[Actor] = []
    jobs: list[Awaitable[None]] = []
    sessions: list[aiohttp.ClientSession] = []
    octet = rng.randrange(1, 200)

    def address(group: int, index: int) -> str:
        return f"127.{group}.{octet}.{index + 1}"

    def session_for(ip: str) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(local_addr=(ip, 0), limit=0)
        http = aiohttp.ClientSession(connector=connector, timeout=_TIMEOUT)
        sessions.append(http)
        return http

    people = iter(sorted(rooms_of))
    for i in range(population.solos):
        ip = address(20, i)
        name = next(people)
        actors.append(Actor(ip, "person", 0, [name]))
        jobs.append(person(Session(world, session_for(ip)), name, rooms_of[name]))
    for o in range(population.offices):
        ip = address(30, o)
        http = session_for(ip)
        members = [next(people) for _ in range(population.office_size)]
        actors.append(Actor(ip, "nat_office", 0, members))
        jobs += [person(Session(world, http), m, rooms_of[m]) for m in members]
    for b in range(population.bots):
        ip = address(40, b)
        name = f"notifier{b}"
        actors.append(Actor(ip, "busy_bot", 0, [name]))
        jobs.append(busy_bot(Session(world, session_for(ip)), name, rooms_of[name]))
    for n in range(population.newcomers):
        ip = address(50, n)
        actors.append(Actor(ip, "newcomer", 0))
        jobs.append(newcomer(Session(world, session_for(ip)), f"new{seed}x{n}"))
    for a, attack in enumerate(ATTACKS):
        for k in range(population.per_attack):
            ip = address(60 + a, k)
            actors.append(Actor(ip, attack, 1))
            jobs.append(_attack(attack, Session(world, session_for(ip))))
    try:
        await asyncio.gather(*jobs)
    finally:
        for http in sessions:
            await http.close()
    return actors


def _attack(kind: str, s: Session) -> Awaitable[None]:
    table: dict[str, Callable[[], Awaitable[None]]] = {
        "stuff_fast": lambda: stuffing(s, (0.2, 0.5)),
        "stuff_spray": lambda: stuffing(s, (0.8, 1.5), spray=True),
        "stuff_slow": lambda: stuffing(s, (17, 23)),
        "reg_burst": lambda: registrations(s, "burst"),
        "reg_steady": lambda: registrations(s, "steady"),
        "reg_slow": lambda: registrations(s, "slow"),
        "spam_flood": lambda: spammer(s, (0.5, 1.5)),
        "spam_slow": lambda: spammer(s, (12, 20)),
        "invite_spam": lambda: invite_spammer(s),
        "scrape_directory": lambda: scraper(s, profiles=False),
        "scrape_profiles": lambda: scraper(s, profiles=True),
    }
    return table[kind]()
