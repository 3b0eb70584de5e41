"""Prints docs/roles.md from the role matrix: `python -m labelkeep.accounts.roles_doc`."""

from labelkeep.accounts.roles import markdown_table

HEADER = """# Roles and permissions

Generated from `labelkeep/accounts/roles.py` (`make roles-doc`); a test fails when this
page and the matrix disagree. Each member of an organization has exactly one role.
`deactivated` members keep their account and history but can neither sign in to the
organization nor use its API; removed members lose the membership itself. Either way
their open sessions end at their next request, and the invite link is replaced (they may
know it). Only an administrator gives access back: a deactivated member cannot rejoin
through an invite link, a removed one only through a link replaced after their removal
(see [security.md](security.md#2-accounts)). Only an owner can make someone an owner or
change an owner's role, and an organization always keeps at least one owner.

"""


def render() -> str:
    return HEADER + markdown_table()


if __name__ == "__main__":
    print(render(), end="")
