"""Household cards (门牌卡 / 积分卡): a printed QR with a signed household credential and a PIN,
for households without smartphones. Issue, revoke and unblock (:mod:`.services`), pay at the
counter with the card and its PIN (:mod:`.payments`), the credential's format (:mod:`.tokens`)."""
