//! `schema.graphql` is the contract the frontend is built against: it must equal the code.
#[test]
fn schema_graphql_equals_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let actual = crm::graphql::sdl();
    if std::env::var("UPDATE_SCHEMA").is_ok() {
        std::fs::write(path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected != actual {
        let diff = similar::TextDiff::from_lines(&expected, &actual);
        let mut out = String::new();
        for change in diff
            .iter_all_changes()
            .filter(|c| c.tag() != similar::ChangeTag::Equal)
        {
            let sign = if change.tag() == similar::ChangeTag::Delete {
                "-"
            } else {
                "+"
            };
            out.push_str(&format!("{sign}{change}"));
        }
        panic!(
            "schema.graphql differs from the code (- file, + code):\n{out}\n\
             Regenerate with: UPDATE_SCHEMA=1 cargo test --test schema (or cargo run -- print-schema > schema.graphql)"
        );
    }
}

#[test]
fn schema_keeps_the_contract_names() {
    let sdl = crm::graphql::sdl();
    for name in [
        "enum ImpersonationDenial",
        "TWO_FACTOR_DISABLED",
        "SELF",
        "TARGET_IS_SUPER_ADMIN",
        "TARGET_IS_ADMIN",
        "ALREADY_IMPERSONATING",
        "NOT_ALLOWED_BY_USER",
        "type CurrentUser",
        "impersonatedBy: User",
        "impersonation: Impersonation",
        "type AuthPayload",
        "refreshToken: String\n",
        "type ImpersonationCheck",
        "impersonationCheck: ImpersonationCheck!",
        "authorName: String!",
        "actorName: String!",
        "impersonate(userId: ID!, reason: String, mode: ImpersonationMode, ticket: String, teamId: ID, stepUp: StepUp): AuthPayload!",
        "enum ImpersonationMode",
        "IMPERSONATION_DISABLED",
        "endReason: ImpersonationEndReason",
        "elevateImpersonation(code: String, reason: String!, stepUp: StepUp): Impersonation!",
        "approveImpersonationReview(id: ID!, note: String, stepUp: StepUp): ImpersonationReview!",
        "type Passkey {",
        "passkeys: [Passkey!]!",
        "type PasskeyChallenge {",
        "options: JSON!",
        "input PasskeyResponse {",
        "challengeId: ID!",
        "credential: JSON!",
        "input StepUp {",
        "startPasskeyRegistration: PasskeyChallenge!",
        "finishPasskeyRegistration(name: String!, password: String!, response: PasskeyResponse!, proof: StepUp): Passkey!",
        "deletePasskey(id: ID!, password: String!): Boolean!",
        "authenticateWithPasskey(response: PasskeyResponse!): AuthPayload!",
        "endImpersonation(id: ID!, reason: String): Impersonation!",
        "setImpersonationEnabled(enabled: Boolean!, reason: String): Boolean!",
        "cancelImpersonation: AuthPayload!",
        "setUserRole(userId: ID!, role: Role!): User!",
        "switchTeam(teamId: ID!): AuthPayload!",
    ] {
        assert!(sdl.contains(name), "schema lacks {name:?}");
    }
    let imp = sdl
        .split("type Impersonation {")
        .nth(1)
        .unwrap()
        .split('}')
        .next()
        .unwrap();
    assert!(
        !imp.to_lowercase().contains("code"),
        "the impersonation code must never be exposed"
    );
}
