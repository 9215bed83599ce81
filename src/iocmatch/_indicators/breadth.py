"""Indicators that would hit far too much: excluded unless the caller allows them.

A feed that carries ``0.0.0.0/0``, a public suffix such as ``co.uk``, the hash
of an empty file, a public DNS resolver, ``C:\\Windows``, ``svchost.exe`` or
``LIKE 'w%'`` would flood analysts with hits on ordinary activity. Such a
value is excluded by default and reported with the reason. Private, reserved
and documentation ranges are not: internal hunts and tests use them. The
lists of famous values are short on purpose: anything longer is an
allowlist's job.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from .._common.addresses import network_range
from .._common.model import (
    DIRECTORY,
    DOMAIN,
    EQUALS,
    FILE_NAME,
    IPV4,
    IPV6,
    MD5,
    PREFIX,
    PROCESS_NAME,
    SHA1,
    SHA256,
    SHA512,
    SUBDOMAINS_ONLY,
    URL,
    Atom,
)
from .._patterns.values import after_scheme

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

# Shorter prefixes than these cover a large part of the address space.
SHORTEST_PREFIX = {IPV4: 8, IPV6: 32}

EMPTY_FILE_HASHES = {
    (MD5, "d41d8cd98f00b204e9800998ecf8427e"),
    (SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    (SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (
        SHA512,
        (
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
            "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
        ),
    ),
}

# Addresses every network talks to: public DNS resolvers.
FAMOUS_BENIGN = {
    "8.8.8.8": "Google Public DNS",
    "8.8.4.4": "Google Public DNS",
    "2001:4860:4860::8888": "Google Public DNS",
    "2001:4860:4860::8844": "Google Public DNS",
    "1.1.1.1": "Cloudflare DNS",
    "1.0.0.1": "Cloudflare DNS",
    "2606:4700:4700::1111": "Cloudflare DNS",
    "2606:4700:4700::1001": "Cloudflare DNS",
    "9.9.9.9": "Quad9 DNS",
    "149.112.112.112": "Quad9 DNS",
    "2620:fe::fe": "Quad9 DNS",
    "208.67.222.222": "OpenDNS",
    "208.67.220.220": "OpenDNS",
}

# A LIKE prefix must fix at least this many letters or digits. Shorter ones
# are syllables every system is full of (`win`, `sys`, `tmp`, `svc`, `www.`),
# each the start of hundreds of ordinary file, folder and host names; four is
# where a prefix begins to name one thing (`mimi%`, `plugx%`).
SHORTEST_LIKE_PREFIX = 4

# A file name needs at least this many characters: `a` or `1.` occurs in every path.
SHORTEST_FILE_NAME = 3

# Programs and libraries on every Windows host, named in its logs all day
# (process creation, image loads). Malware takes these names to hide; that is
# caught with the folder or the hash in the same AND, which keeps the clause.
UBIQUITOUS_FILE_NAMES = frozenset(
    {
        "cmd.exe",
        "conhost.exe",
        "csrss.exe",
        "cscript.exe",
        "dllhost.exe",
        "explorer.exe",
        "lsass.exe",
        "msiexec.exe",
        "mshta.exe",
        "powershell.exe",
        "pwsh.exe",
        "regsvr32.exe",
        "rundll32.exe",
        "schtasks.exe",
        "services.exe",
        "smss.exe",
        "spoolsv.exe",
        "svchost.exe",
        "taskhost.exe",
        "taskhostw.exe",
        "wininit.exe",
        "winlogon.exe",
        "wmiprvse.exe",
        "wscript.exe",
        "kernel32.dll",
        "kernelbase.dll",
        "ntdll.dll",
        "user32.dll",
    }
)

# Well-known folders, each under what it is: every file on a host sits in
# one of them. "*" is anyone's name. Windows ones are compared without case.
WINDOWS_FOLDERS = {
    "a drive's root": ("",),
    "a Windows system folder": (
        "Windows",
        r"Windows\System32",
        r"Windows\SysWOW64",
        r"Windows\Sysnative",
        r"Windows\System32\drivers",
        r"Windows\System32\Tasks",
        r"Windows\System32\wbem",
        r"Windows\System32\WindowsPowerShell\v1.0",
        r"Windows\Tasks",
        r"Windows\Temp",
        "Program Files",
        "Program Files (x86)",
        r"Program Files\Common Files",
        r"Program Files (x86)\Common Files",
        "ProgramData",
        r"ProgramData\Microsoft\Windows\Start Menu\Programs\Startup",
        "Temp",
        "Users",
        "Documents and Settings",
    ),
    "a user's profile folder": (r"Users\*", r"Documents and Settings\*"),
    "a folder in every user's profile": (
        r"Users\*\AppData",
        r"Users\*\AppData\Roaming",
        r"Users\*\AppData\Roaming\Microsoft\Windows\Start Menu\Programs\Startup",
        r"Users\*\AppData\Local",
        r"Users\*\AppData\Local\Temp",
        r"Users\*\AppData\LocalLow",
        r"Users\*\Desktop",
        r"Users\*\Documents",
        r"Users\*\Downloads",
        r"Documents and Settings\*\Application Data",
        r"Documents and Settings\*\Local Settings",
        r"Documents and Settings\*\Local Settings\Application Data",
        r"Documents and Settings\*\Local Settings\Temp",
        r"Documents and Settings\*\Desktop",
        r"Documents and Settings\*\My Documents",
    ),
}
# Environment variables in Windows paths, as the folders they usually stand for.
WINDOWS_VARIABLES = {
    "%SYSTEMDRIVE%": "",
    "%SYSTEMROOT%": "Windows",
    "%WINDIR%": "Windows",
    "%PROGRAMFILES%": "Program Files",
    "%PROGRAMW6432%": "Program Files",
    "%PROGRAMFILES(X86)%": "Program Files (x86)",
    "%COMMONPROGRAMFILES%": r"Program Files\Common Files",
    "%PROGRAMDATA%": "ProgramData",
    "%ALLUSERSPROFILE%": "ProgramData",
    "%PUBLIC%": r"Users\Public",
    "%USERPROFILE%": r"Users\*",
    "%HOMEPATH%": r"Users\*",
    "%APPDATA%": r"Users\*\AppData\Roaming",
    "%LOCALAPPDATA%": r"Users\*\AppData\Local",
    "%TEMP%": r"Users\*\AppData\Local\Temp",
    "%TMP%": r"Users\*\AppData\Local\Temp",
}
# Linux and macOS folders, compared with their case.
POSIX_FOLDERS = {
    "the root folder": ("/",),
    "a system folder": (
        *("/bin", "/sbin", "/lib", "/lib64", "/etc", "/opt", "/usr", "/var", "/tmp", "/dev", "/proc", "/sys"),
        *("/run", "/boot", "/mnt", "/media", "/srv", "/home", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64"),
        *("/usr/share", "/usr/local", "/usr/local/bin", "/usr/local/sbin", "/usr/local/lib", "/var/tmp", "/var/log"),
        *("/var/lib", "/var/run", "/var/spool", "/var/www", "/dev/shm", "/etc/init.d", "/etc/cron.d"),
        *("/etc/systemd/system", "/Users", "/Applications", "/Library", "/Library/LaunchAgents"),
        *("/Library/LaunchDaemons", "/System", "/private/tmp", "/private/var/tmp"),
    ),
    "a user's home folder": ("/root", "/home/*", "/Users/*"),
    "a folder in every user's profile": ("/Users/*/Library", "/Users/*/Library/LaunchAgents"),
}

_DRIVE = re.compile(r"[A-Za-z]:")
_VARIABLE = re.compile(r"%[A-Za-z0-9_()]+%")
_SEPARATORS = re.compile(r"[\\/]+")
# URL LIKE prefixes that hold a scheme and nothing else (no host yet).
_SCHEME_ONLY = re.compile(r"[a-z][a-z0-9+.-]*:/{0,2}|h[tx]{2}ps?|s?ftps?|wss?|file", re.IGNORECASE)


def too_broad(atom: Atom) -> str | None:
    """Why ``atom`` would hit ordinary traffic everywhere, or None."""
    kind, value = atom.kind, atom.value
    if kind in (IPV4, IPV6):
        _, _, length = network_range(value)
        if length < SHORTEST_PREFIX[kind]:
            return f"too broad: {value} is wider than /{SHORTEST_PREFIX[kind]}"
        if value in FAMOUS_BENIGN:
            return f"too broad: {value} is a public DNS resolver ({FAMOUS_BENIGN[value]})"
    elif kind == DOMAIN and atom.mode in (EQUALS, SUBDOMAINS_ONLY):
        if _public_suffixes().is_public(value):
            return f"too broad: {value} is a public suffix (a whole registry's names hit it)"
        if value in UBIQUITOUS_FILE_NAMES:  # a text list's `svchost.exe` is read as a host name
            return f"too broad: {value} is the name of a program on every Windows host"
    elif (kind, value) in EMPTY_FILE_HASHES:
        return f"too broad: {value} is the {kind.upper()} of an empty file"
    elif atom.mode == PREFIX:
        return _broad_prefix(atom)
    elif kind in (FILE_NAME, PROCESS_NAME):
        return _broad_file_name(value)
    elif kind == DIRECTORY:
        folder = _system_folder(value)
        return f"too broad: {value} is {folder}" if folder else None
    return None


def _broad_file_name(name: str) -> str | None:
    if len(name.strip()) < SHORTEST_FILE_NAME:
        return f"too broad: file name {name!r} has fewer than {SHORTEST_FILE_NAME} characters"
    if name.lower() in UBIQUITOUS_FILE_NAMES:
        return f"too broad: {name} is the name of a program on every Windows host"
    return None


def _broad_prefix(atom: Atom) -> str | None:
    """LIKE 'prefix%': a well-known thing it covers, or too little fixed."""
    kind, literal, shown = atom.kind, atom.value, f"LIKE {atom.display!r}"
    fixed = after_scheme(literal) if kind == URL else literal
    if sum(character.isalnum() for character in fixed) < SHORTEST_LIKE_PREFIX:
        return f"too broad: {shown} fixes fewer than {SHORTEST_LIKE_PREFIX} letters or digits"
    if kind == URL and _SCHEME_ONLY.fullmatch(literal):
        return f"too broad: {shown} holds only a URL scheme (every URL written with it hits)"
    if kind == DIRECTORY:
        folder = _system_folder(literal, prefix=True)
        if folder:
            return f"too broad: {shown} covers {folder}"
    if kind in (FILE_NAME, PROCESS_NAME):
        covered = sorted(name for name in UBIQUITOUS_FILE_NAMES if name.startswith(literal.lower()))
        if covered:
            return f"too broad: {shown} covers {covered[0]}, the name of a program on every Windows host"
    return None


def _system_folder(path: str, *, prefix: bool = False) -> str | None:
    """What well-known folder ``path`` is, or with ``prefix`` what folder a path
    that starts with it can be; None when none. Windows forms are compared
    without case, with either separator and a drive or an environment variable
    in front; POSIX ones with their case. A trailing separator does not count."""
    text = path.strip()
    if text.startswith("/"):
        found = _folder(_SEPARATORS.split(text)[1:], _POSIX, prefix)
        if found is not None:
            return found
    if _DRIVE.match(text) or _VARIABLE.match(text) or "\\" in text or text.startswith("/"):
        return _folder(_windows_components(text), _WINDOWS, prefix)
    return None


def _windows_components(path: str) -> list[str]:
    """``path`` as lower-case components from the root, a drive or a known
    variable replaced by the folders it stands for."""
    text = path.lower()
    root: list[str] = []
    if _DRIVE.match(text):
        text = text[2:]
    elif (variable := _VARIABLE.match(text)) is not None and variable.group().upper() in WINDOWS_VARIABLES:
        root, text = _components(WINDOWS_VARIABLES[variable.group().upper()].lower()), text[variable.end() :]
    parts = _SEPARATORS.split(text)
    # Rooted or not, a path is looked for as a substring: 'Windows\System32' is as broad.
    return [*root, *(parts[1:] if parts[:1] == [""] else parts)]


def _components(path: str) -> list[str]:
    return [part for part in _SEPARATORS.split(path) if part]


def _table(folders: dict[str, tuple[str, ...]], root: str, fold: bool) -> dict[tuple[str, ...], str]:
    """Components -> 'what it is (the folder as written)'."""
    return {
        tuple(_components(folder.lower() if fold else folder)): f"{what} ({_rooted(folder, root)})"
        for what, listed in folders.items()
        for folder in listed
    }


def _rooted(folder: str, root: str) -> str:
    return folder if folder.startswith(root) else root + folder


_WINDOWS = _table(WINDOWS_FOLDERS, "C:\\", fold=True)
_POSIX = _table(POSIX_FOLDERS, "/", fold=False)
_ANYONE = "*"


def _folder(components: list[str], folders: dict[tuple[str, ...], str], prefix: bool) -> str | None:
    """What ``components`` name; with ``prefix`` the last component may stop
    short (empty after a trailing separator), and any folder it leads into counts."""
    if not prefix:
        named = [part for part in components if part]
        return next((what for folder, what in folders.items() if _same(folder, named)), None)
    *complete, partial = components or [""]
    complete = [part for part in complete if part]
    for folder, what in folders.items():
        if not _same(folder[: len(complete)], complete):
            continue
        if len(folder) == len(complete):
            if not partial:
                return what
        elif folder[len(complete)] == _ANYONE or folder[len(complete)].startswith(partial):
            return what
    return None


def _same(folder: tuple[str, ...], components: list[str]) -> bool:
    if len(folder) != len(components):
        return False
    return all(want in (_ANYONE, part) for want, part in zip(folder, components, strict=True))


@lru_cache(maxsize=1)
def _public_suffixes() -> PublicSuffixList:
    # Imported and read (about 0.2 s) only when a feed holds a domain.
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()
