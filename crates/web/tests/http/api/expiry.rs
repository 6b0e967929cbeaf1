//! Idle and absolute expiry, driven by the fake clock the factory injected.

use reqwest::StatusCode;
use sesame_core::ports::Clock;
use time::Duration;

use crate::support::{assert_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_session_left_idle_past_its_window_is_gone() {
    let app = spawn_app().await;
    let (client, _) = app.signed_up("idle@example.com").await;

    app.clock.advance(Duration::minutes(30) - Duration::seconds(1));
    assert_eq!(app.get(&client, "/api/auth/me").await.status(), StatusCode::OK, "used just inside the window");
    app.clock.advance(Duration::minutes(30) - Duration::seconds(1));
    assert_eq!(app.get(&client, "/api/auth/me").await.status(), StatusCode::OK, "the use slid the window");

    app.clock.advance(Duration::minutes(30));
    assert_problem(app.get(&client, "/api/auth/me").await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn a_session_used_all_along_still_ends_at_its_absolute_expiry() {
    let app = spawn_app().await;
    let (client, _) = app.signed_up("absolute@example.com").await;
    let opened = app.clock.now();

    let step = Duration::minutes(25);
    while app.clock.now() + step < opened + Duration::hours(12) {
        app.clock.advance(step);
        assert_eq!(app.get(&client, "/api/auth/me").await.status(), StatusCode::OK, "at {}", app.clock.now() - opened);
    }
    app.clock.set(opened + Duration::hours(12));
    assert_problem(app.get(&client, "/api/auth/me").await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn the_idle_timeout_follows_session_max_age_seconds() {
    let app =
        spawn_app_with(&[("SESSION_MAX_AGE_SECONDS", "120"), ("SESAME__SESSION__TOUCH_INTERVAL_SECONDS", "10")]).await;
    let (client, _) = app.signed_up("short@example.com").await;
    app.clock.advance(Duration::seconds(119));
    assert_eq!(app.get(&client, "/api/auth/me").await.status(), StatusCode::OK);
    app.clock.advance(Duration::seconds(120));
    assert_problem(app.get(&client, "/api/auth/me").await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}
