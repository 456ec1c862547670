"""Small helpers for ledger tests: award/deduct through the one posting function."""

from pointsbank.ledger import services as ledger


def award(community_id: int, household_id: int, points: int, kind: str = "award"):
    issuance = ledger.system_accounts(community_id)["issuance"]
    account = ledger.household_account_id(household_id)
    return ledger.post(community_id, kind, [(issuance, -points), (account, points)], reference=("test", household_id))
