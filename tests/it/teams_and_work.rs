//! Teams, businesses, leads, comments and the audit log, scoped to the current team.

use crate::common::*;
use serde_json::json;

const TEAMS_PAGE: &str = r#"
query TeamsPage($f: Int, $a: String, $s: String) {
  teams(first: $f, after: $a, search: $s) {
    edges { cursor node { name owner { name } members { name } } }
    pageInfo { hasNextPage endCursor }
  }
}
"#;

const CREATE_LEAD_LENA: &str = r#"
mutation CreateLeadLena($b: ID) {
  createLead(name: "Lena", businessId: $b) { id business { id } }
}
"#;

const WORK_WITH_COMMENTS: &str = r#"
query WorkWithComments {
  businesses { name comments { text authorName isImpersonated } }
  leads { name comments { text } }
}
"#;

const FIRST_COMMENT_PAGE: &str = r#"
query FirstCommentPage($b: ID!) {
  business(id: $b) {
    commentsConnection(first: 1) { edges { node { text } } pageInfo { hasNextPage } }
  }
}
"#;

#[tokio::test]
async fn create_and_switch_teams() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let t = app
        .ok(
            Some(&s.token),
            "mutation { createTeam(name: \"Second\") { id name owner { id } members { id } } }",
            json!({}),
        )
        .await;
    let second = t["createTeam"]["id"].as_str().unwrap().to_string();
    assert_eq!(t["createTeam"]["owner"]["id"], s.user_id.as_str());
    assert_eq!(t["createTeam"]["members"][0]["id"], s.user_id.as_str());
    let me = app
        .ok(
            Some(&s.token),
            "{ me { teams { name } currentTeam { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(me["me"]["teams"].as_array().unwrap().len(), 2);
    assert_eq!(
        me["me"]["currentTeam"]["id"],
        s.team_id.clone().unwrap().as_str(),
        "creating does not switch"
    );

    let q = "mutation($t: ID!) { switchTeam(teamId: $t) { accessToken refreshToken user { currentTeam { id name } } } }";
    let d = app.ok(Some(&s.token), q, json!({ "t": second })).await;
    assert_eq!(d["switchTeam"]["user"]["currentTeam"]["name"], "Second");
    let token = d["switchTeam"]["accessToken"].as_str().unwrap();
    assert_eq!(claims(token)["teamId"], second.as_str());
    // Objects are created in the team the token acts in.
    app.ok(
        Some(token),
        "mutation { createBusiness(name: \"In second\") { id } }",
        json!({}),
    )
    .await;
    let b = app
        .ok(
            Some(token),
            "{ businesses { name team { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(b["businesses"][0]["team"]["id"], second.as_str());
    assert_eq!(
        app.ok(Some(&s.token), "{ businesses { id } }", json!({}))
            .await["businesses"],
        json!([])
    );

    // Someone else's team is not found; bad names are refused.
    let other = app.register("bob@example.com", "Bob").await;
    assert_eq!(
        app.err_code(Some(&other.token), q, json!({ "t": second }))
            .await,
        "NOT_FOUND"
    );
    let v = app
        .gql(
            Some(&s.token),
            "mutation { createTeam(name: \"  \") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'TEAM_SWITCHED'")
            .await,
        1
    );
}

#[tokio::test]
async fn the_teams_list_is_for_admins_paged_and_searchable() {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let user = app.register("ann@example.com", "Ann").await;
    for i in 0..4 {
        app.register(&format!("u{i}@example.com"), &format!("Zed {i}"))
            .await;
    }
    let q = TEAMS_PAGE;
    assert_eq!(
        app.err_code(Some(&user.token), q, json!({})).await,
        "FORBIDDEN"
    );
    let p1 = app.ok(Some(&admin.token), q, json!({ "f": 4 })).await;
    assert_eq!(p1["teams"]["edges"].as_array().unwrap().len(), 4);
    assert_eq!(p1["teams"]["pageInfo"]["hasNextPage"], true);
    let p2 = app
        .ok(
            Some(&admin.token),
            q,
            json!({ "f": 4, "a": p1["teams"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(p2["teams"]["edges"].as_array().unwrap().len(), 2);
    assert_eq!(p2["teams"]["pageInfo"]["hasNextPage"], false);
    let names: Vec<_> = p1["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["teams"]["edges"].as_array().unwrap())
        .map(|e| e["node"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 6);
    for e in p1["teams"]["edges"].as_array().unwrap() {
        assert_eq!(
            e["node"]["members"],
            json!([{ "name": e["node"]["owner"]["name"] }]),
            "members of each team"
        );
    }
    let found = app.ok(Some(&admin.token), q, json!({ "s": "zED" })).await;
    assert_eq!(
        found["teams"]["edges"].as_array().unwrap().len(),
        4,
        "search ignores case"
    );
    let none = app.ok(Some(&admin.token), q, json!({ "s": "%" })).await;
    assert_eq!(
        none["teams"]["edges"].as_array().unwrap().len(),
        0,
        "wildcards are literal"
    );
    assert_eq!(
        app.err_code(Some(&admin.token), q, json!({ "f": 1000 }))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err_code(Some(&admin.token), q, json!({ "a": "bogus" }))
            .await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn businesses_leads_and_comments_are_scoped_to_the_team() {
    let app = TestApp::new().await;
    let ann = app.register("ann@example.com", "Ann").await;
    let bob = app.register("bob@example.com", "Bob").await;
    let b = app
        .ok(
            Some(&ann.token),
            "mutation { createBusiness(name: \"Acme\") { id name team { id } comments { id } } }",
            json!({}),
        )
        .await;
    let biz = b["createBusiness"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        b["createBusiness"]["team"]["id"],
        ann.team_id.clone().unwrap().as_str()
    );
    let l = app
        .ok(Some(&ann.token), CREATE_LEAD_LENA, json!({ "b": biz }))
        .await;
    let lead = l["createLead"]["id"].as_str().unwrap().to_string();
    assert_eq!(l["createLead"]["business"]["id"], biz.as_str());
    app.ok(
        Some(&ann.token),
        "mutation($b: ID!) { addBusinessComment(businessId: $b, text: \"one\") { id } }",
        json!({ "b": biz }),
    )
    .await;
    app.ok(
        Some(&ann.token),
        "mutation($l: ID!) { addLeadComment(leadId: $l, text: \"two\") { id } }",
        json!({ "l": lead }),
    )
    .await;
    let d = app
        .ok(Some(&ann.token), WORK_WITH_COMMENTS, json!({}))
        .await;
    assert_eq!(d["businesses"][0]["comments"][0]["text"], "one");
    assert_eq!(d["businesses"][0]["comments"][0]["authorName"], "Ann");
    assert_eq!(d["leads"][0]["comments"][0]["text"], "two");
    let page = app
        .ok(Some(&ann.token), FIRST_COMMENT_PAGE, json!({ "b": biz }))
        .await;
    assert_eq!(
        page["business"]["commentsConnection"]["edges"][0]["node"]["text"],
        "one"
    );

    // Bob's team cannot see or touch Ann's objects.
    for (q, v) in [
        (
            "query($i: ID!) { business(id: $i) { id } }",
            json!({ "i": biz }),
        ),
        (
            "query($i: ID!) { lead(id: $i) { id } }",
            json!({ "i": lead }),
        ),
        (
            "mutation($i: ID!) { addBusinessComment(businessId: $i, text: \"x\") { id } }",
            json!({ "i": biz }),
        ),
        (
            "mutation($i: ID!) { addLeadComment(leadId: $i, text: \"x\") { id } }",
            json!({ "i": lead }),
        ),
        (
            "mutation($i: ID) { createLead(name: \"x\", businessId: $i) { id } }",
            json!({ "i": biz }),
        ),
    ] {
        assert_eq!(
            app.err_code(Some(&bob.token), q, v).await,
            "NOT_FOUND",
            "{q}"
        );
    }
    assert_eq!(
        app.ok(
            Some(&bob.token),
            "{ businesses { id } leads { id } }",
            json!({})
        )
        .await,
        json!({ "businesses": [], "leads": [] })
    );
    // Empty comments are refused and change nothing.
    let v = app
        .gql(
            Some(&ann.token),
            "mutation($b: ID!) { addBusinessComment(businessId: $b, text: \"   \") { id } }",
            json!({ "b": biz }),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    assert_eq!(v["errors"][0]["extensions"]["field"], "text");
    assert_eq!(
        app.count("comments", "WHERE business_id IS NOT NULL").await,
        1
    );
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'COMMENT_CREATED'")
            .await,
        2
    );
    assert_eq!(
        app.err_code(None, "{ businesses { id } }", json!({})).await,
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn audit_logs_are_team_scoped_for_users_and_global_for_admins() {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let ann = app.register("ann@example.com", "Ann").await;
    let bob = app.register("bob@example.com", "Bob").await;
    app.ok(
        Some(&ann.token),
        "mutation { createBusiness(name: \"Acme\") { id } }",
        json!({}),
    )
    .await;
    app.ok(
        Some(&bob.token),
        "mutation { createBusiness(name: \"Bobco\") { id } }",
        json!({}),
    )
    .await;
    let q = r#"
query AuditPage($f: AuditLogFilter, $n: Int, $a: String) {
  auditLogs(first: $n, after: $a, filter: $f) {
    edges {
      node { action actor { id } actorName team { id } entityType entityId isImpersonated createdAt }
    }
    pageInfo { hasNextPage endCursor }
  }
}"#;
    let ann_logs = app.ok(Some(&ann.token), q, json!({})).await;
    for e in ann_logs["auditLogs"]["edges"].as_array().unwrap() {
        assert_eq!(
            e["node"]["team"]["id"],
            ann.team_id.clone().unwrap().as_str()
        );
    }
    let first = &ann_logs["auditLogs"]["edges"][0]["node"];
    assert_eq!(first["action"], "BUSINESS_CREATED", "newest first");
    assert_eq!(first["actorName"], "Ann");
    let all = app
        .ok(
            Some(&admin.token),
            q,
            json!({ "f": { "action": "BUSINESS_CREATED" } }),
        )
        .await;
    assert_eq!(all["auditLogs"]["edges"].as_array().unwrap().len(), 2);
    let by_actor = app
        .ok(
            Some(&admin.token),
            q,
            json!({ "f": { "actorId": bob.user_id, "entityType": "Business" } }),
        )
        .await;
    assert_eq!(by_actor["auditLogs"]["edges"].as_array().unwrap().len(), 1);
    let p1 = app.ok(Some(&admin.token), q, json!({ "n": 2 })).await;
    assert_eq!(p1["auditLogs"]["pageInfo"]["hasNextPage"], true);
    let p2 = app
        .ok(
            Some(&admin.token),
            q,
            json!({ "n": 2, "a": p1["auditLogs"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_ne!(p1["auditLogs"]["edges"][0], p2["auditLogs"]["edges"][0]);
}
