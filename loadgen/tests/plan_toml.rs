//! The plan format: the documented example parses, validates and round-trips; bad plans fail
//! with one-line errors.

use proxylab_loadgen::plan::{Behaviour, Load, Plan, Stage};

const FULL: &str = include_str!("../examples/full-plan.toml");

#[test]
fn full_example_parses_validates_and_round_trips() {
    let plan = Plan::from_toml_str(FULL).expect("parse");
    plan.validate().expect("valid");
    assert_eq!(plan.populations.len(), 10);
    assert!(matches!(&plan.populations[0].load, Load::Open { stages, .. } if stages.len() == 4));
    assert!(matches!(
        plan.populations[2].behaviour,
        Behaviour::SlowHeaders { .. }
    ));
    let again = Plan::from_toml_str(&plan.to_toml_string().unwrap()).unwrap();
    assert_eq!(plan, again);
    let json = serde_json::to_string(&plan).unwrap();
    let from_json: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(plan, from_json);
}

#[test]
fn minimal_plan_gets_defaults() {
    let plan = Plan::from_toml_str(
        r#"targets = ["http://127.0.0.1:1"]
           [[population]]
           name = "p"
           load = { model = "closed", connections = 2 }"#,
    )
    .unwrap();
    plan.validate().unwrap();
    assert_eq!(plan.duration.get().as_secs(), 10);
    assert_eq!(plan.populations[0].requests[0].method, "GET");
    assert_eq!(plan.populations[0].behaviour, Behaviour::Normal {});
}

#[test]
fn unknown_keys_are_rejected_at_every_level() {
    let base = r#"targets = ["http://127.0.0.1:1"]
        [[population]]
        name = "p"
        "#;
    for extra in [
        "load = { model = \"closed\", connections = 2, bogus = 1 }",
        "load = { model = \"open\", stages = [{ shape = \"constant\", rate = 1, duration = \"1s\", x = 1 }] }",
        "load = { model = \"closed\", connections = 2 }\nbehaviour = { kind = \"ws_idle\", holdd = \"1s\" }",
        "load = { model = \"closed\", connections = 2 }\nconnection = { mode = \"per_request\", max_requests = 1 }",
        "load = { model = \"closed\", connections = 2 }\nbogus = true",
        "load = { model = \"wavy\" }",
        "load = { model = \"closed\", connections = 2 }\nbehaviour = { kind = \"normal\", x = 1 }",
    ] {
        let text = format!("{base}{extra}");
        let err = Plan::from_toml_str(&text).expect_err(&text).to_string();
        assert!(!err.is_empty());
    }
}

#[test]
fn invalid_values_name_the_population() {
    let cases = [
        (
            "load = { model = \"closed\", connections = 0 }",
            "connections",
        ),
        ("load = { model = \"open\", stages = [] }", "stage"),
        (
            "load = { model = \"open\", stages = [{ shape = \"constant\", rate = -1, duration = \"1s\" }] }",
            "rate",
        ),
        (
            "load = { model = \"open\", stages = [{ shape = \"spike\", base = 1, height = 9, at = \"9s\", hold = \"2s\", duration = \"10s\" }] }",
            "spike",
        ),
        (
            "load = { model = \"closed\", connections = 1 }\nrequests = [{ path = \"nope\" }]",
            "path",
        ),
        (
            "load = { model = \"closed\", connections = 1 }\nrequests = [{ method = \"G T\" }]",
            "method",
        ),
    ];
    for (extra, word) in cases {
        let text =
            format!("targets = [\"http://127.0.0.1:1\"]\n[[population]]\nname = \"pp\"\n{extra}");
        let plan = Plan::from_toml_str(&text).expect(&text);
        let err = plan.validate().expect_err(&text).to_string();
        assert!(err.contains("\"pp\"") && err.contains(word), "{err}");
        assert!(!err.contains('\n'));
    }
}

#[test]
fn bad_durations_are_syntax_errors() {
    let text = r#"targets = ["http://127.0.0.1:1"]
        duration = "ten seconds"
        [[population]]
        name = "p"
        load = { model = "closed", connections = 1 }"#;
    assert!(
        Plan::from_toml_str(text)
            .unwrap_err()
            .to_string()
            .contains("duration")
    );
}

#[test]
fn shards_split_rates_and_connections() {
    let plan = Plan::from_toml_str(FULL).unwrap();
    let parts: Vec<Plan> = (0..3).map(|i| plan.shard(i, 3).unwrap()).collect();
    let conns: u32 = parts
        .iter()
        .map(|p| match p.populations[1].load {
            Load::Closed { connections, .. } => connections,
            _ => unreachable!(),
        })
        .sum();
    assert_eq!(conns, 50);
    match &parts[0].populations[0].load {
        Load::Open { stages, .. } => {
            assert!(
                matches!(stages[1], Stage::Constant { rate, .. } if (rate - 1000.0 / 3.0).abs() < 1e-9)
            )
        }
        _ => unreachable!(),
    }
    assert!(plan.shard(3, 3).is_err());
}
