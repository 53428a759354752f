"""``axis admin``: users of the admin dashboard.

``axis admin add-user NAME --role admin|auditor`` prints a one-time password: the user
must choose a new one at first login. Only its scrypt hash is stored.
``axis admin reset-password NAME`` prints a new one-time password (sessions end).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from axis.commands._deployment import add_config_argument, run_with_store
from axis.passwords import hash_password, new_password
from axis.store import Store
from axis.store.users import User, validate_user_name

__all__ = ["register"]

ACTOR = "cli"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "admin",
        help="manage the users of the admin dashboard",
        description="Users of the admin dashboard (quản trị): admins act, auditors look.",
    )
    sub = parser.add_subparsers(dest="admin_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser(
        "add-user",
        help="create a dashboard user and print a one-time password",
        description="Create a user. The one-time password is printed once; it must be "
        "changed at first login.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--role", choices=("admin", "auditor"), required=True)
    p.add_argument("--json", action="store_true", help='print {"name", "role", "password"}')
    add_config_argument(p)
    p.set_defaults(func=_add_user)

    p = sub.add_parser("reset-password", help="give a user a new one-time password")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true", help='print {"name", "password"}')
    add_config_argument(p)
    p.set_defaults(func=_reset)

    p = sub.add_parser("list-users", help="list dashboard users")
    p.add_argument("--json", action="store_true")
    add_config_argument(p)
    p.set_defaults(func=_list)


def _add_user(args: argparse.Namespace) -> int:
    name = validate_user_name(args.name)
    password = new_password()

    async def body(store: Store) -> User:
        digest = await asyncio.to_thread(hash_password, password)
        return await store.users.add_user(name, args.role, digest, actor=ACTOR)

    user = run_with_store(args, body)
    if args.json:
        print(json.dumps({"name": user.name, "role": user.role, "password": password}))
        return 0
    print(f"Created dashboard user {user.name} ({user.role}).")
    print(f"  one-time password: {password}")
    print("It must be changed at first login (đổi mật khẩu khi đăng nhập lần đầu).")
    return 0


def _reset(args: argparse.Namespace) -> int:
    password = new_password()

    async def body(store: Store) -> None:
        digest = await asyncio.to_thread(hash_password, password)
        await store.users.set_password(args.name, digest, must_change=True, actor=ACTOR)

    run_with_store(args, body)
    if args.json:
        print(json.dumps({"name": args.name, "password": password}))
        return 0
    print(f"New one-time password for {args.name}: {password}")
    return 0


def _list(args: argparse.Namespace) -> int:
    async def body(store: Store) -> list[User]:
        return await store.users.list_users()

    users = run_with_store(args, body)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": u.name,
                        "role": u.role,
                        "must_change": u.must_change,
                        "created_at": u.created_at.isoformat(),
                        "disabled": u.disabled,
                    }
                    for u in users
                ],
                indent=2,
            )
        )
        return 0
    for u in users:
        print(f"{u.name:<24} {u.role:<8} {'must change password' if u.must_change else ''}")
    print(f"{len(users)} users")
    return 0
