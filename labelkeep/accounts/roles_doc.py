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


FOOTER = """
## In the browser

The Members page (`/organization/members/`, linked from the home page) lists the
organization's members to everyone holding `members.view`; holders of `members.manage`
also get a role selector and a Remove button per member. It calls the same services as
`api/organizations/{id}/memberships/{user_id}/`, so the same rules hold: only an owner
makes or changes owners, the last owner stays, nobody removes themselves, and members of
other organizations are not found (`404`). The Audit log page (`/organization/audit/`)
needs `audit.view`. Tests: `tests/accounts/test_org_pages.py`.
"""


def render() -> str:
    return HEADER + markdown_table() + FOOTER


if __name__ == "__main__":
    print(render(), end="")
