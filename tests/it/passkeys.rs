//! Passkeys and step-up over GraphQL, with webauthn-rs's own software passkey as the
//! authenticator: registration, sign-in's second step, the list and removal; what the
//! relying party refuses (a replayed assertion, another origin, another RP ID, an expired
//! challenge, a challenge used twice, a counter gone backwards); and IMPERSONATION_STEP_UP
//! on `impersonate`, `elevateImpersonation` and `approveImpersonationReview`.

use crate::common::*;
use serde_json::{Value, json};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::{AuthenticatorBackend, WebauthnAuthenticator};
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

/// The console's origin under the test configuration (`http://localhost:<8080>`).
const ORIGIN: &str = "http://localhost:8080";

const START_REGISTRATION: &str = "mutation { startPasskeyRegistration { id options } }";
const FINISH_REGISTRATION: &str = r#"mutation($n: String!, $p: String!, $r: PasskeyResponse!, $proof: StepUp) {
  finishPasskeyRegistration(name: $n, password: $p, response: $r, proof: $proof) { id name createdAt lastUsedAt }
}"#;
const START_AUTH: &str =
    "mutation($p: PasskeyPurpose) { startPasskeyAuthentication(purpose: $p) { id options } }";
const AUTHENTICATE: &str = r#"mutation($r: PasskeyResponse!) {
  authenticateWithPasskey(response: $r) { accessToken refreshToken user { id currentTeam { id } } }
}"#;
const ME: &str =
    "{ me { isTwoFactorEnabled isTwoFactorAuthenticated passkeys { id name lastUsedAt } } }";
const IMPERSONATE: &str = r#"mutation($u: ID!, $m: ImpersonationMode, $s: StepUp) {
  impersonate(userId: $u, reason: "Check the invoice", mode: $m, stepUp: $s) { accessToken }
}"#;

fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

/// A software passkey that performs user verification (passkeys require it).
fn new_key() -> SoftPasskey {
    SoftPasskey::new(true)
}

/// `startPasskeyRegistration` and the authenticator's answer: `finishPasskeyRegistration`'s
/// variables, with `proof`.
async fn registration(
    app: &TestApp,
    token: &str,
    key: &mut SoftPasskey,
    name: &str,
    proof: Value,
) -> Value {
    let c = app.ok(Some(token), START_REGISTRATION, json!({})).await;
    let c = &c["startPasskeyRegistration"];
    let options: CreationChallengeResponse =
        serde_json::from_value(json!({ "publicKey": c["options"] })).unwrap();
    let credential = key.do_registration(origin(), options).unwrap();
    let r = json!({ "challengeId": c["id"], "credential": credential });
    json!({ "n": name, "p": "correct-horse-1", "r": r, "proof": proof })
}

/// Adds a passkey. `totp`: the account's TOTP secret, whose fresh code proves the addition
/// (an account with a second factor adds another only with a fresh proof of it).
async fn add_passkey(
    app: &TestApp,
    token: &str,
    key: &mut SoftPasskey,
    name: &str,
    totp: Option<&str>,
) -> Value {
    let proof = totp
        .map(|s| json!({ "code": app.code(s) }))
        .unwrap_or(Value::Null);
    let vars = registration(app, token, key, name, proof).await;
    app.ok(Some(token), FINISH_REGISTRATION, vars).await["finishPasskeyRegistration"].clone()
}

/// A challenge for the caller's passkeys: its id and its options.
async fn challenge(
    app: &TestApp,
    token: &str,
    purpose: Option<&str>,
) -> (Value, RequestChallengeResponse) {
    let c = app
        .ok(Some(token), START_AUTH, json!({ "p": purpose }))
        .await;
    let c = &c["startPasskeyAuthentication"];
    let options = serde_json::from_value(json!({ "publicKey": c["options"] })).unwrap();
    (c["id"].clone(), options)
}

/// The authenticator's answer to `options`, as a browser at `at` would give it.
fn sign(key: &mut SoftPasskey, options: RequestChallengeResponse, at: &str) -> Value {
    let credential = key
        .do_authentication(Url::parse(at).unwrap(), options)
        .unwrap();
    serde_json::to_value(credential).unwrap()
}

fn response(id: &Value, credential: &Value) -> Value {
    json!({ "challengeId": id, "credential": credential })
}

/// A step-up with a fresh passkey assertion for `purpose`.
async fn passkey_step_up(
    app: &TestApp,
    token: &str,
    key: &mut SoftPasskey,
    purpose: &str,
) -> Value {
    let (id, options) = challenge(app, token, Some(purpose)).await;
    json!({ "passkey": response(&id, &sign(key, options, ORIGIN)) })
}

fn field(v: &Value) -> &str {
    v["errors"][0]["extensions"]["field"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_passkey_is_a_second_factor_for_signing_in() {
    let app = TestApp::new().await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let mut key = new_key();
    let added = add_passkey(&app, &carl.token, &mut key, "Work laptop", None).await;
    assert_eq!(added["name"], "Work laptop");
    assert!(added["lastUsedAt"].is_null());
    // A passkey turns 2FA on; the old refresh token (from before) no longer works.
    let me = app
        .ok(
            Some(&carl.token),
            "{ me { isTwoFactorEnabled hasPasskey } }",
            json!({}),
        )
        .await;
    assert_eq!(me["me"]["isTwoFactorEnabled"], true);
    assert_eq!(me["me"]["hasPasskey"], true);
    // The token from before has not passed the factor the account now has.
    assert_eq!(
        app.err_code(Some(&carl.token), ME, json!({})).await,
        "TWO_FACTOR_REQUIRED"
    );
    let refresh = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }";
    let old = carl.refresh.clone().unwrap();
    assert_eq!(
        app.err_code(None, refresh, json!({ "t": old })).await,
        "UNAUTHENTICATED"
    );

    // Sign in: the password gives a token waiting for 2FA, the passkey completes it.
    let login = app.login("carl@customer.test", "correct-horse-1").await;
    let pending = login["accessToken"].as_str().unwrap().to_string();
    assert!(login["refreshToken"].is_null());
    let teams = "{ businesses { id } }";
    assert_eq!(
        app.err_code(Some(&pending), teams, json!({})).await,
        "TWO_FACTOR_REQUIRED"
    );
    let (id, options) = challenge(&app, &pending, Some("SIGN_IN")).await;
    let cred = sign(&mut key, options, ORIGIN);
    let d = app
        .ok(
            Some(&pending),
            AUTHENTICATE,
            json!({ "r": response(&id, &cred) }),
        )
        .await;
    let signed_in = Session::from_payload(&d["authenticateWithPasskey"]);
    assert!(signed_in.refresh.is_some());
    let me = app.ok(Some(&signed_in.token), ME, json!({})).await;
    assert_eq!(me["me"]["isTwoFactorAuthenticated"], true);
    assert!(me["me"]["passkeys"][0]["lastUsedAt"].is_string());
    app.ok(Some(&signed_in.token), teams, json!({})).await;
    // The audit trail says it in words.
    let audit = app
        .count("audit_logs", "WHERE action = 'PASSKEY_AUTHENTICATED'")
        .await;
    assert_eq!(audit, 1);
}

#[tokio::test]
async fn registration_needs_the_password_and_an_answer_to_its_own_challenge() {
    let app = TestApp::new().await;
    // Carl has TOTP on already: his token stays good after he adds a passkey.
    let carl = app.register("carl@customer.test", "Carl").await;
    let (carl, carl_secret) = app.enable_2fa(&carl).await;
    let mut key = new_key();
    let c = app
        .ok(Some(&carl.token), START_REGISTRATION, json!({}))
        .await;
    let c = &c["startPasskeyRegistration"];
    // The options are what navigator.credentials.create() takes.
    assert_eq!(c["options"]["rp"]["id"], "localhost");
    assert!(c["options"]["challenge"].is_string());
    let options: CreationChallengeResponse =
        serde_json::from_value(json!({ "publicKey": c["options"] })).unwrap();
    let credential = serde_json::to_value(key.do_registration(origin(), options).unwrap()).unwrap();
    let r = json!({ "challengeId": c["id"], "credential": credential });
    let wrong = json!({ "n": "Laptop", "p": "wrong-password-1", "r": r });
    let v = app.gql(Some(&carl.token), FINISH_REGISTRATION, wrong).await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    assert_eq!(field(&v), "password");
    // A fresh code from the factor he has proves the addition.
    let ok = json!({ "n": "Laptop", "p": "correct-horse-1", "r": r, "proof": { "code": app.code(&carl_secret) } });
    app.ok(Some(&carl.token), FINISH_REGISTRATION, ok.clone())
        .await;
    // The same challenge answered again (with the fresh proof Carl's passkey now needs): used.
    let mut again = ok;
    again["proof"] = passkey_step_up(&app, &carl.token, &mut key, "ADD_FACTOR").await;
    let v = app.gql(Some(&carl.token), FINISH_REGISTRATION, again).await;
    assert_eq!(
        (error_code(&v).as_str(), field(&v)),
        ("BAD_USER_INPUT", "passkey")
    );
    assert_eq!(app.count("passkeys", "").await, 1);
    // Another user cannot finish Carl's ceremony.
    let dora = app.register("dora@customer.test", "Dora").await;
    let c = app
        .ok(Some(&carl.token), START_REGISTRATION, json!({}))
        .await;
    let c = &c["startPasskeyRegistration"];
    let options: CreationChallengeResponse =
        serde_json::from_value(json!({ "publicKey": c["options"] })).unwrap();
    let credential =
        serde_json::to_value(new_key().do_registration(origin(), options).unwrap()).unwrap();
    let r = json!({ "challengeId": c["id"], "credential": credential });
    let v = app
        .gql(
            Some(&dora.token),
            FINISH_REGISTRATION,
            json!({ "n": "x", "p": "correct-horse-1", "r": r }),
        )
        .await;
    assert_eq!(field(&v), "passkey");
    assert_eq!(app.count("passkeys", "").await, 1);
}

#[tokio::test]
async fn the_relying_party_refuses_what_it_must() {
    let app = TestApp::new().await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let mut key = new_key();
    add_passkey(&app, &carl.token, &mut key, "Laptop", None).await;
    let t = app.login("carl@customer.test", "correct-horse-1").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = |v: &Value| {
        assert_eq!(error_code(v), "BAD_USER_INPUT", "{v}");
        assert_eq!(field(v), "passkey", "{v}");
    };

    // Another origin (a phishing page on another port of localhost).
    let (id, options) = challenge(&app, &t, None).await;
    let cred = sign(&mut key, options, "http://localhost:9999");
    refused(
        &app.gql(Some(&t), AUTHENTICATE, json!({ "r": response(&id, &cred) }))
            .await,
    );

    // Another RP ID: the authenticator signed for another site.
    let (id, mut options) = challenge(&app, &t, None).await;
    options.public_key.rp_id = "evil.localhost".into();
    let cred = key
        .perform_auth(origin(), options.public_key, 60_000)
        .unwrap();
    let cred = serde_json::to_value(cred).unwrap();
    refused(
        &app.gql(Some(&t), AUTHENTICATE, json!({ "r": response(&id, &cred) }))
            .await,
    );

    // An expired challenge: answered after its 5 minutes.
    let (id, options) = challenge(&app, &t, None).await;
    let cred = sign(&mut key, options, ORIGIN);
    app.clock.advance(chrono::Duration::minutes(6));
    refused(
        &app.gql(Some(&t), AUTHENTICATE, json!({ "r": response(&id, &cred) }))
            .await,
    );
    app.clock.advance(chrono::Duration::minutes(-6));

    // A challenge used twice: two answers to one challenge, the second refused.
    let (id, options) = challenge(&app, &t, None).await;
    let first = sign(&mut key, options.clone(), ORIGIN);
    let second = sign(&mut key, options, ORIGIN);
    app.ok(
        Some(&t),
        AUTHENTICATE,
        json!({ "r": response(&id, &first) }),
    )
    .await;
    refused(
        &app.gql(
            Some(&t),
            AUTHENTICATE,
            json!({ "r": response(&id, &second) }),
        )
        .await,
    );

    // A replayed assertion: an old answer sent again for a new challenge.
    let (fresh, _) = challenge(&app, &t, None).await;
    refused(
        &app.gql(
            Some(&t),
            AUTHENTICATE,
            json!({ "r": response(&fresh, &first) }),
        )
        .await,
    );

    // A counter gone backwards (a cloned authenticator): two challenges, answered in order,
    // sent in reverse: the later counter is stored, the earlier one is refused.
    let (a, options_a) = challenge(&app, &t, None).await;
    let (b, options_b) = challenge(&app, &t, None).await;
    let earlier = sign(&mut key, options_a, ORIGIN);
    let later = sign(&mut key, options_b, ORIGIN);
    app.ok(Some(&t), AUTHENTICATE, json!({ "r": response(&b, &later) }))
        .await;
    refused(
        &app.gql(
            Some(&t),
            AUTHENTICATE,
            json!({ "r": response(&a, &earlier) }),
        )
        .await,
    );

    // A challenge for another purpose proves nothing here.
    let (id, options) = challenge(&app, &t, Some("IMPERSONATE")).await;
    let cred = sign(&mut key, options, ORIGIN);
    refused(
        &app.gql(Some(&t), AUTHENTICATE, json!({ "r": response(&id, &cred) }))
            .await,
    );

    // Each refusal is in the audit trail, with its cause.
    let failed = app
        .count("audit_logs", "WHERE action = 'PASSKEY_FAILED'")
        .await;
    assert_eq!(failed, 7);
    let counter = app
        .count(
            "audit_logs",
            "WHERE action = 'PASSKEY_FAILED' AND details LIKE '%COUNTER%'",
        )
        .await;
    assert_eq!(counter, 1);
}

#[tokio::test]
async fn removing_the_last_passkey_turns_two_factor_off() {
    let app = TestApp::new().await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let mut key = new_key();
    let p = add_passkey(&app, &carl.token, &mut key, "Laptop", None).await;
    let t = app.login("carl@customer.test", "correct-horse-1").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let (id, options) = challenge(&app, &t, None).await;
    let cred = sign(&mut key, options, ORIGIN);
    let d = app
        .ok(Some(&t), AUTHENTICATE, json!({ "r": response(&id, &cred) }))
        .await;
    let s = Session::from_payload(&d["authenticateWithPasskey"]);
    let delete = "mutation($id: ID!, $p: String!) { deletePasskey(id: $id, password: $p) }";
    let v = app
        .gql(
            Some(&s.token),
            delete,
            json!({ "id": p["id"], "p": "nope-nope-nope" }),
        )
        .await;
    assert_eq!(field(&v), "password");
    let dora = app.register("dora@customer.test", "Dora").await;
    let theirs = app
        .err_code(
            Some(&dora.token),
            delete,
            json!({ "id": p["id"], "p": "correct-horse-1" }),
        )
        .await;
    assert_eq!(theirs, "NOT_FOUND");
    app.ok(
        Some(&s.token),
        delete,
        json!({ "id": p["id"], "p": "correct-horse-1" }),
    )
    .await;
    let me = app.ok(Some(&s.token), ME, json!({})).await;
    assert_eq!(me["me"]["isTwoFactorEnabled"], false);
    assert_eq!(me["me"]["passkeys"], json!([]));
    // Signing in needs the password only again.
    let login = app.login("carl@customer.test", "correct-horse-1").await;
    assert!(login["refreshToken"].is_string());
}

#[tokio::test]
async fn step_up_passkey_needs_a_fresh_assertion_for_every_session() {
    let app = TestApp::with_config(|c| c.step_up = crm::config::StepUp::Passkey).await;
    let (ada, secret) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let u = json!(carl.user_id);
    // Without a proof, or with a code only: STEP_UP_REQUIRED, and what would do.
    let v = app
        .gql(Some(&ada.token), IMPERSONATE, json!({ "u": u }))
        .await;
    assert_eq!(error_code(&v), "STEP_UP_REQUIRED");
    assert_eq!(v["errors"][0]["extensions"]["methods"], json!(["PASSKEY"]));
    let code = json!({ "code": app.code(&secret) });
    let v = app
        .gql(Some(&ada.token), IMPERSONATE, json!({ "u": u, "s": code }))
        .await;
    assert_eq!(error_code(&v), "STEP_UP_REQUIRED");
    assert_eq!(app.count("impersonations", "").await, 0);

    let mut key = new_key();
    add_passkey(&app, &ada.token, &mut key, "YubiKey", Some(&secret)).await;
    let proof = passkey_step_up(&app, &ada.token, &mut key, "IMPERSONATE").await;
    app.ok(Some(&ada.token), IMPERSONATE, json!({ "u": u, "s": proof }))
        .await;
    // The same proof cannot start a second session.
    let v = app
        .gql(Some(&ada.token), IMPERSONATE, json!({ "u": u, "s": proof }))
        .await;
    assert_eq!(
        (error_code(&v).as_str(), field(&v)),
        ("BAD_USER_INPUT", "passkey")
    );
    // A proof for elevating cannot start a session either.
    let elevate_proof = passkey_step_up(&app, &ada.token, &mut key, "ELEVATE").await;
    let v = app
        .gql(
            Some(&ada.token),
            IMPERSONATE,
            json!({ "u": u, "s": elevate_proof }),
        )
        .await;
    assert_eq!(field(&v), "passkey");
    assert_eq!(app.count("impersonations", "").await, 1);
    // The session's audit row says how the admin proved it.
    let proved = app
        .count(
            "audit_logs",
            "WHERE action = 'IMPERSONATION_STARTED' AND details LIKE '%\"stepUp\":\"PASSKEY\"%'",
        )
        .await;
    assert_eq!(proved, 1);
}

#[tokio::test]
async fn step_up_any_takes_a_code_or_a_passkey_and_elevation_takes_one_too() {
    let app = TestApp::with_config(|c| c.step_up = crm::config::StepUp::Any).await;
    let (ada, secret) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let u = json!(carl.user_id);
    let v = app
        .gql(Some(&ada.token), IMPERSONATE, json!({ "u": u }))
        .await;
    assert_eq!(error_code(&v), "STEP_UP_REQUIRED");
    assert_eq!(
        v["errors"][0]["extensions"]["methods"],
        json!(["PASSKEY", "TOTP"])
    );
    // A code: accepted once.
    let code = json!({ "code": app.code(&secret) });
    let vars = json!({ "u": u, "s": code, "m": "READ_ONLY" });
    let t = app.ok(Some(&ada.token), IMPERSONATE, vars.clone()).await["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.err_code(Some(&ada.token), IMPERSONATE, vars).await,
        "BAD_USER_INPUT"
    );

    // Elevating from inside the session: a passkey challenge of the admin's own, asked with
    // the impersonation token.
    let mut key = new_key();
    add_passkey(&app, &ada.token, &mut key, "Laptop", Some(&secret)).await;
    let elevate = "mutation($s: StepUp) { elevateImpersonation(reason: \"fix the invoice\", stepUp: $s) { mode } }";
    assert_eq!(
        app.err_code(Some(&t), elevate, json!({})).await,
        "STEP_UP_REQUIRED"
    );
    let proof = passkey_step_up(&app, &t, &mut key, "ELEVATE").await;
    let d = app.ok(Some(&t), elevate, json!({ "s": proof })).await;
    assert_eq!(d["elevateImpersonation"]["mode"], "READ_WRITE");
}

#[tokio::test]
async fn step_up_guards_approving_a_review() {
    let app = TestApp::with_config(|c| c.step_up = crm::config::StepUp::Passkey).await;
    let (sue, _) = app.admin("sue@support.test", "SUPER_ADMIN").await;
    let (ada, _) = app.admin("ada@support.test", "ADMIN").await;
    let (bob, bob_secret) = app.admin("bob@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let mark =
        "mutation($u: ID!) { setImpersonationReviewRequired(userId: $u, required: true) { id } }";
    app.ok(Some(&sue.token), mark, json!({ "u": carl.user_id }))
        .await;
    let ask = r#"mutation($u: ID!) { requestImpersonationReview(userId: $u, reason: "Fix the payout account") { id } }"#;
    let r = app
        .ok(Some(&ada.token), ask, json!({ "u": carl.user_id }))
        .await;
    let id = r["requestImpersonationReview"]["id"].clone();
    let approve = "mutation($id: ID!, $s: StepUp) { approveImpersonationReview(id: $id, stepUp: $s) { status } }";
    assert_eq!(
        app.err_code(Some(&bob.token), approve, json!({ "id": id }))
            .await,
        "STEP_UP_REQUIRED"
    );
    let mut key = new_key();
    add_passkey(&app, &bob.token, &mut key, "Laptop", Some(&bob_secret)).await;
    let proof = passkey_step_up(&app, &bob.token, &mut key, "APPROVE_REVIEW").await;
    let d = app
        .ok(Some(&bob.token), approve, json!({ "id": id, "s": proof }))
        .await;
    assert_eq!(d["approveImpersonationReview"]["status"], "APPROVED");
}

#[tokio::test]
async fn without_step_up_a_session_starts_as_it_always_did() {
    let app = TestApp::new().await;
    let (ada, _) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    app.ok(Some(&ada.token), IMPERSONATE, json!({ "u": carl.user_id }))
        .await;
}

/// The notices of `token`'s user: (kind, message), newest first.
async fn notices(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let d = app
        .ok(
            Some(token),
            "{ me { notifications(first: 50) { edges { node { kind message } } } } }",
            json!({}),
        )
        .await;
    d["me"]["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["kind"].as_str().unwrap().to_string(),
                n["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_phisher_with_the_password_and_a_sign_in_code_cannot_add_a_passkey() {
    let app = TestApp::with_config(|c| {
        c.step_up = crm::config::StepUp::Passkey;
        // E-mail set up (nobody listens: the outbox keeps what it would send).
        c.smtp = Some(
            crm::config::smtp::parse("smtp://127.0.0.1:9", Some("CRM <crm@crm.test>")).unwrap(),
        );
    })
    .await;
    let (sue, _) = app.admin("sue@support.test", "SUPER_ADMIN").await;
    app.ok(
        Some(&sue.token),
        r#"mutation { createWebhookEndpoint(url: "https://siem.example.com/hook", events: ["user.factor_changed"]) { secret } }"#,
        json!({}),
    )
    .await;
    // Ada's session passed 2FA with a code the phisher relayed.
    let (ada, secret) = app.admin("ada@support.test", "ADMIN").await;
    let relayed =
        crm::auth::totp::code_at(&secret, crm::clock::Clock::now(&*app.clock).timestamp()).unwrap();
    let mut key = new_key();
    let told = "WHERE kind = 'FACTOR_CHANGED'";
    let mailed = "WHERE subject LIKE '%sign in changed%' OR subject LIKE '%sign-in changed%'";
    let (told_before, mailed_before) = (
        app.count("notifications", told).await,
        app.count("email_outbox", mailed).await,
    );

    // Without a proof: STEP_UP_REQUIRED, naming the code (Ada has no passkey yet).
    let vars = registration(&app, &ada.token, &mut key, "Phisher's key", Value::Null).await;
    let v = app.gql(Some(&ada.token), FINISH_REGISTRATION, vars).await;
    assert_eq!(error_code(&v), "STEP_UP_REQUIRED", "{v}");
    assert_eq!(v["errors"][0]["extensions"]["methods"], json!(["TOTP"]));
    // The code that signed the session in does not count again.
    let vars = registration(
        &app,
        &ada.token,
        &mut key,
        "Phisher's key",
        json!({ "code": relayed }),
    )
    .await;
    let v = app.gql(Some(&ada.token), FINISH_REGISTRATION, vars).await;
    assert_eq!(
        (error_code(&v).as_str(), field(&v)),
        ("BAD_USER_INPUT", "code"),
        "{v}"
    );
    assert_eq!(app.count("passkeys", "").await, 0);
    assert_eq!(app.count("notifications", told).await, told_before);

    // Ada herself, with a fresh code: added, and told to her, to the other super admin (in the
    // app and by e-mail) and to the SIEM.
    let added = add_passkey(&app, &ada.token, &mut key, "YubiKey", Some(&secret)).await;
    assert_eq!(added["name"], "YubiKey");
    let ada = Session::from_payload(&app.login("ada@support.test", "correct-horse-1").await);
    let ada_token = {
        let (id, options) = challenge(&app, &ada.token, Some("SIGN_IN")).await;
        let cred = sign(&mut key, options, ORIGIN);
        let d = app
            .ok(
                Some(&ada.token),
                AUTHENTICATE,
                json!({ "r": response(&id, &cred) }),
            )
            .await;
        d["authenticateWithPasskey"]["accessToken"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mine = notices(&app, &ada_token).await;
    assert!(
        mine.iter().any(|(k, m)| k == "FACTOR_CHANGED"
            && m.contains("YubiKey")
            && m.contains("If this was not you")),
        "{mine:?}"
    );
    let sues = notices(&app, &sue.token).await;
    assert!(
        sues.iter().any(|(k, m)| k == "FACTOR_CHANGED"
            && m.contains("YubiKey")
            && m.contains("Ada Admin")),
        "{sues:?}"
    );
    assert_eq!(app.count("notifications", told).await, told_before + 2);
    assert_eq!(app.count("email_outbox", mailed).await, mailed_before + 2);
    assert_eq!(
        app.count(
            "webhook_deliveries",
            "WHERE event_type = 'user.factor_changed' AND payload LIKE '%PASSKEY_ADDED%'"
        )
        .await,
        1
    );

    // Now Ada holds a passkey: another factor needs an assertion of it, a code is not enough.
    let mut second = new_key();
    let vars = registration(
        &app,
        &ada_token,
        &mut second,
        "Spare",
        json!({ "code": app.code(&secret) }),
    )
    .await;
    let v = app.gql(Some(&ada_token), FINISH_REGISTRATION, vars).await;
    assert_eq!(error_code(&v), "STEP_UP_REQUIRED", "{v}");
    assert_eq!(v["errors"][0]["extensions"]["methods"], json!(["PASSKEY"]));
    let proof = passkey_step_up(&app, &ada_token, &mut key, "ADD_FACTOR").await;
    let vars = registration(
        &app,
        &ada_token,
        &mut second,
        "Spare",
        proof["passkey"].clone(),
    )
    .await;
    // (the proof goes in StepUp's `passkey`)
    let vars = json!({ "n": vars["n"], "p": vars["p"], "r": vars["r"], "proof": { "passkey": vars["proof"] } });
    app.ok(Some(&ada_token), FINISH_REGISTRATION, vars).await;
    assert_eq!(app.count("passkeys", "").await, 2);
}

#[tokio::test]
async fn turning_totp_on_beside_a_passkey_needs_that_passkey() {
    let app = TestApp::new().await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let mut key = new_key();
    add_passkey(&app, &carl.token, &mut key, "Laptop", None).await;
    let t = app.login("carl@customer.test", "correct-horse-1").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let (id, options) = challenge(&app, &t, Some("SIGN_IN")).await;
    let cred = sign(&mut key, options, ORIGIN);
    let d = app
        .ok(Some(&t), AUTHENTICATE, json!({ "r": response(&id, &cred) }))
        .await;
    let t = d["authenticateWithPasskey"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let d = app
        .ok(
            Some(&t),
            "mutation { generateTwoFactorSecret { otpauthUrl } }",
            json!({}),
        )
        .await;
    let secret = secret_from_url(d["generateTwoFactorSecret"]["otpauthUrl"].as_str().unwrap());
    let on = "mutation($c: String!, $s: StepUp) { turnOnTwoFactor(code: $c, password: \"correct-horse-1\", proof: $s) { user { id } } }";
    let v = app
        .gql(Some(&t), on, json!({ "c": app.code(&secret) }))
        .await;
    assert_eq!(error_code(&v), "STEP_UP_REQUIRED", "{v}");
    assert_eq!(v["errors"][0]["extensions"]["methods"], json!(["PASSKEY"]));
    let proof = passkey_step_up(&app, &t, &mut key, "ADD_FACTOR").await;
    app.ok(Some(&t), on, json!({ "c": app.code(&secret), "s": proof }))
        .await;
    let told = notices(&app, &t).await;
    assert!(
        told.iter()
            .any(|(k, m)| k == "FACTOR_CHANGED" && m.contains("authenticator app")),
        "{told:?}"
    );
    assert!(
        told.iter()
            .any(|(k, m)| k == "FACTOR_CHANGED" && m.contains("Laptop")),
        "{told:?}"
    );
}

#[tokio::test]
async fn a_step_up_named_for_one_customer_proves_nothing_for_another() {
    let app = TestApp::with_config(|c| c.step_up = crm::config::StepUp::Passkey).await;
    let (ada, secret) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let dora = app.register("dora@customer.test", "Dora").await;
    let mut key = new_key();
    add_passkey(&app, &ada.token, &mut key, "YubiKey", Some(&secret)).await;
    let aimed = "mutation($p: PasskeyPurpose, $t: ID) { startPasskeyAuthentication(purpose: $p, targetId: $t) { id options } }";
    let c = app
        .ok(
            Some(&ada.token),
            aimed,
            json!({ "p": "IMPERSONATE", "t": carl.user_id }),
        )
        .await;
    let c = &c["startPasskeyAuthentication"];
    let options = serde_json::from_value(json!({ "publicKey": c["options"] })).unwrap();
    let proof = json!({ "passkey": response(&c["id"], &sign(&mut key, options, ORIGIN)) });
    // For Dora it proves nothing (and is spent: a challenge is used once).
    let v = app
        .gql(
            Some(&ada.token),
            IMPERSONATE,
            json!({ "u": dora.user_id, "s": proof }),
        )
        .await;
    assert_eq!(
        (error_code(&v).as_str(), field(&v)),
        ("BAD_USER_INPUT", "passkey"),
        "{v}"
    );
    assert_eq!(app.count("impersonations", "").await, 0);
    // A challenge named for Carl opens Carl's account.
    let c = app
        .ok(
            Some(&ada.token),
            aimed,
            json!({ "p": "IMPERSONATE", "t": carl.user_id }),
        )
        .await;
    let c = &c["startPasskeyAuthentication"];
    let options = serde_json::from_value(json!({ "publicKey": c["options"] })).unwrap();
    let proof = json!({ "passkey": response(&c["id"], &sign(&mut key, options, ORIGIN)) });
    app.ok(
        Some(&ada.token),
        IMPERSONATE,
        json!({ "u": carl.user_id, "s": proof }),
    )
    .await;
    assert_eq!(app.count("impersonations", "").await, 1);
}

#[tokio::test]
async fn failed_passkey_assertions_are_throttled_with_totp_codes() {
    let app = TestApp::new().await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let mut key = new_key();
    add_passkey(&app, &carl.token, &mut key, "Laptop", None).await;
    let t = app.login("carl@customer.test", "correct-horse-1").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    // A guesser answers each new challenge with an old assertion: refused, and counted.
    let (_, options) = challenge(&app, &t, Some("SIGN_IN")).await;
    let stale = sign(&mut key, options, ORIGIN);
    let mut codes = vec![];
    for _ in 0..7 {
        let (id, _) = challenge(&app, &t, Some("SIGN_IN")).await;
        let cred = stale.clone();
        let v = app
            .gql(Some(&t), AUTHENTICATE, json!({ "r": response(&id, &cred) }))
            .await;
        codes.push(error_code(&v));
    }
    assert_eq!(codes[..5], ["BAD_USER_INPUT"; 5], "{codes:?}");
    assert_eq!(codes[5..], ["RATE_LIMITED"; 2], "{codes:?}");
    // Even the right passkey waits now: the throttle is the account's.
    let (id, options) = challenge(&app, &t, Some("SIGN_IN")).await;
    let cred = sign(&mut key, options, ORIGIN);
    let v = app
        .gql(Some(&t), AUTHENTICATE, json!({ "r": response(&id, &cred) }))
        .await;
    assert_eq!(error_code(&v), "RATE_LIMITED");
}
