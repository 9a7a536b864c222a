"""The management API, as the README shows it: the organisation, usage, the user, API keys.

Needs a key with the admin scope (the one ``aither server`` printed on its first start)::

    AITHER_API_KEY=aith_... AITHER_BASE_URL=http://127.0.0.1:4680 python examples/management.py
"""

from __future__ import annotations

import aither

aither.init()  # AITHER_API_KEY, AITHER_BASE_URL (or the credentials file `aither server` wrote)

org = aither.org.get()
print(f"organisation: {org.name} ({org.plan}), created {org.created_at:%Y-%m-%d}")

usage = aither.org.usage()
print(
    f"this period ({usage.period_start:%Y-%m-%d} to {usage.period_end:%Y-%m-%d}): "
    f"{usage.api_calls} API calls, {usage.predictions} predictions, {usage.labels} labels, "
    f"{usage.spans} spans"
)

me = aither.user.me()
print(f"signed in as {me.email} ({me.role})")

# A key for a CI job that only sends telemetry. Its secret is shown this once.
key = aither.api_keys.create(name="ci-telemetry", scopes=["write"])
print(f"created {key.id} with scopes {list(key.scopes)}; secret starts {key.secret[:9]}...")

for listed in aither.api_keys.list():
    state = "revoked" if listed.revoked else "active"
    print(f"  {listed.id}  {listed.name:<14} {','.join(listed.scopes):<18} ...{listed.tail}  {state}")

# A key that leaked is refused from the next request on.
revoked = aither.api_keys.revoke(key_id=key.id)
print(f"revoked {revoked.id} at {revoked.revoked_at:%H:%M:%S}")

try:
    aither.api_keys.revoke(key_id="key_0000000000000000")
except aither.NotFound as exc:
    print("unknown key:", exc)

aither.close()
