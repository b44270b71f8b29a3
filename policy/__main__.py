"""Entry point of the botfront policy pack: `pulumi preview --policy-pack policy`.

Only assembles the pack. Constructing `PolicyPack` starts the analyzer's gRPC server and blocks
forever, so this file is never imported; the policies live in `policies.py` (tests import them).
The CLI runs this file with the pack directory first on sys.path, hence the plain import.
"""

from policies import ALL_POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="botfront",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=list(ALL_POLICIES),
)
