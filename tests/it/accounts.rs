//! Accounts: register, login, refresh rotation, logout, me, profile, password, roles, bad tokens.

use crate::common::*;
use serde_json::json;

const ME_IN_FULL: &str = r#"
query MeInFull {
  me {
    id email name role impersonationAllowed isTwoFactorEnabled
    currentTeam { name owner { id } }
    teams { id }
    impersonatedBy { id }
  }
}
"#;

#[tokio::test]
async fn register_creates_a_user_who_owns_a_team() {
    let app = TestApp::new().await;
    let s = app.register("Ann@Example.com", "Ann").await;
    let me = app.ok(Some(&s.token), ME_IN_FULL, json!({})).await;
    assert_eq!(me["me"]["email"], "ann@example.com");
    assert_eq!(me["me"]["role"], "USER");
    assert_eq!(me["me"]["impersonationAllowed"], true);
    assert_eq!(me["me"]["currentTeam"]["name"], "Ann's team");
    assert_eq!(me["me"]["currentTeam"]["owner"]["id"], s.user_id.as_str());
    assert_eq!(me["me"]["teams"].as_array().unwrap().len(), 1);
    assert!(me["me"]["impersonatedBy"].is_null());
    let c = claims(&s.token);
    assert_eq!(c["sub"], s.user_id.as_str());
    assert_eq!(c["teamId"], s.team_id.clone().unwrap().as_str());
    assert_eq!(c["isTwoFactorEnable"], false);
    assert_eq!(c["isTwoFactorAuthenticated"], false);
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        15 * 60
    );
}

#[tokio::test]
async fn register_refuses_bad_input_and_duplicates() {
    let app = TestApp::new().await;
    app.register("ann@example.com", "Ann").await;
    let q = "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }";
    for (email, password, name, field) in [
        ("not-an-email", "correct-horse-1", "X", "email"),
        ("b@example.com", "short", "X", "password"),
        ("b@example.com", "correct-horse-1", "   ", "name"),
        ("ANN@example.com", "correct-horse-1", "Ann2", "email"),
    ] {
        let v = app
            .gql(
                None,
                q,
                json!({ "i": { "email": email, "password": password, "name": name } }),
            )
            .await;
        assert_eq!(
            error_code(&v),
            "BAD_USER_INPUT",
            "{email} {password} {name}"
        );
        assert_eq!(v["errors"][0]["extensions"]["field"], field);
    }
    assert_eq!(app.count("users", "").await, 1);
}

#[tokio::test]
async fn login_with_right_and_wrong_credentials() {
    let app = TestApp::new().await;
    app.register("ann@example.com", "Ann").await;
    let p = app.login("ANN@example.com", "correct-horse-1").await;
    assert!(p["refreshToken"].is_string());
    assert_eq!(p["user"]["isTwoFactorAuthenticated"], false);
    let q = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
    let wrong = app
        .gql(
            None,
            q,
            json!({ "e": "ann@example.com", "p": "wrong-password-1" }),
        )
        .await;
    let unknown = app
        .gql(
            None,
            q,
            json!({ "e": "nobody@example.com", "p": "wrong-password-1" }),
        )
        .await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
    assert_eq!(
        wrong["errors"][0]["message"], unknown["errors"][0]["message"],
        "no account enumeration"
    );
    assert_eq!(error_code(&unknown), "UNAUTHENTICATED");
    assert_eq!(app.count("audit_logs", "WHERE action = 'LOGIN'").await, 1);
}

#[tokio::test]
async fn refresh_token_rotates_and_a_used_one_is_refused() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let q = "mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken refreshToken user { id } } }";
    let first = app.ok(None, q, json!({ "r": s.refresh })).await;
    let new_refresh = first["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(Some(new_refresh.clone()), s.refresh);
    assert_eq!(first["refreshToken"]["user"]["id"], s.user_id.as_str());
    // The old one is refused, and its reuse revokes the family: the new one dies too.
    assert_eq!(
        app.err_code(None, q, json!({ "r": s.refresh })).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.err_code(None, q, json!({ "r": new_refresh })).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.err_code(None, q, json!({ "r": "garbage" })).await,
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn logout_ends_this_sign_in_and_no_other() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let other = Session::from_payload(&app.login("ann@example.com", "correct-horse-1").await);
    let refresh = "mutation($r: String!) { refreshToken(refreshToken: $r) { refreshToken } }";
    let logout = "mutation($r: String!) { logout(refreshToken: $r) }";
    // One rotation, then sign out with the newest token: the whole family is gone.
    let rotated =
        app.ok(None, refresh, json!({ "r": s.refresh })).await["refreshToken"]["refreshToken"]
            .as_str()
            .unwrap()
            .to_string();
    let d = app.ok(None, logout, json!({ "r": rotated })).await;
    assert_eq!(d["logout"], true);
    assert_eq!(
        app.err_code(None, refresh, json!({ "r": rotated })).await,
        "UNAUTHENTICATED"
    );
    let out = "WHERE action = 'LOGGED_OUT'";
    assert_eq!(app.count("audit_logs", out).await, 1);
    // The other device's sign-in goes on.
    app.ok(None, refresh, json!({ "r": other.refresh })).await;
    // Unknown, garbage and already revoked tokens get the same answer and write nothing.
    let rows = app.count("audit_logs", "").await;
    for r in ["garbage", rotated.as_str(), &"x".repeat(5000)] {
        assert_eq!(
            app.ok(None, logout, json!({ "r": r })).await["logout"],
            true
        );
    }
    assert_eq!(app.count("audit_logs", "").await, rows);
}

#[tokio::test]
async fn refresh_token_expires() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    app.clock.advance(chrono::Duration::days(31));
    let q = "mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken } }";
    assert_eq!(
        app.err_code(None, q, json!({ "r": s.refresh })).await,
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn missing_bad_and_expired_tokens() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    assert_eq!(
        app.err_code(None, "{ me { id } }", json!({})).await,
        "UNAUTHENTICATED"
    );
    let bad = app.gql(Some("not.a.jwt"), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&bad), "UNAUTHENTICATED");
    assert!(
        bad["errors"][0].get("locations").is_none(),
        "a request-level error has no location: {bad}"
    );
    // A bad token is an error even for operations anonymous callers may use.
    let q = "mutation { login(email: \"ann@example.com\", password: \"correct-horse-1\") { accessToken } }";
    assert_eq!(
        app.err_code(Some("not.a.jwt"), q, json!({})).await,
        "UNAUTHENTICATED"
    );
    let mut tampered = s.token.clone();
    tampered.push('x');
    assert_eq!(
        app.err_code(Some(&tampered), "{ me { id } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(
        app.err_code(Some(&s.token), "{ me { id } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn update_profile_and_change_password() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let d = app
        .ok(
            Some(&s.token),
            "mutation { updateProfile(input: { name: \"Ann B\", impersonationAllowed: false }) { name impersonationAllowed } }",
            json!({}),
        )
        .await;
    assert_eq!(d["updateProfile"]["name"], "Ann B");
    assert_eq!(d["updateProfile"]["impersonationAllowed"], false);
    let q = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    let v = app
        .gql(
            Some(&s.token),
            q,
            json!({ "c": "wrong-one-1", "n": "new-password-2" }),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    assert_eq!(v["errors"][0]["extensions"]["field"], "currentPassword");
    let v = app
        .gql(
            Some(&s.token),
            q,
            json!({ "c": "correct-horse-1", "n": "short" }),
        )
        .await;
    assert_eq!(v["errors"][0]["extensions"]["field"], "newPassword");
    app.clock.advance(chrono::Duration::seconds(1));
    let d = app
        .ok(
            Some(&s.token),
            q,
            json!({ "c": "correct-horse-1", "n": "new-password-2" }),
        )
        .await;
    assert_eq!(d["changePassword"], true);
    // Sessions signed in with the old password end, this one included.
    assert_eq!(
        app.err_code(Some(&s.token), "{ me { id } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );
    app.login("ann@example.com", "new-password-2").await;
    let v = app
        .gql(None, "mutation { login(email: \"ann@example.com\", password: \"correct-horse-1\") { accessToken } }", json!({}))
        .await;
    assert_eq!(error_code(&v), "UNAUTHENTICATED");
    // Changing the password revokes refresh tokens issued before.
    let q = "mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken } }";
    assert_eq!(
        app.err_code(None, q, json!({ "r": s.refresh })).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'PASSWORD_CHANGED'")
            .await,
        1
    );
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'PROFILE_UPDATED'")
            .await,
        1
    );
}

#[tokio::test]
async fn set_user_role_is_for_super_admins_only() {
    let app = TestApp::new().await;
    let (sup, _) = app.admin("sup@example.com", "SUPER_ADMIN").await;
    let (adm, _) = app.admin("adm@example.com", "ADMIN").await;
    let user = app.register("ann@example.com", "Ann").await;
    let q = "mutation($u: ID!, $r: Role!) { setUserRole(userId: $u, role: $r) { id role } }";
    assert_eq!(
        app.err_code(
            Some(&adm.token),
            q,
            json!({ "u": user.user_id, "r": "ADMIN" })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.err_code(
            Some(&user.token),
            q,
            json!({ "u": user.user_id, "r": "ADMIN" })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.err_code(
            Some(&sup.token),
            q,
            json!({ "u": sup.user_id, "r": "USER" })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.err_code(
            Some(&sup.token),
            q,
            json!({ "u": "01a1feb8-7151-7059-a8ba-26c2068d7c64", "r": "ADMIN" })
        )
        .await,
        "NOT_FOUND"
    );
    let d = app
        .ok(
            Some(&sup.token),
            q,
            json!({ "u": user.user_id, "r": "ADMIN" }),
        )
        .await;
    assert_eq!(d["setUserRole"]["role"], "ADMIN");
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'ROLE_CHANGED'")
            .await,
        1
    );
}
