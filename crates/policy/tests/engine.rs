//! Loading policies: the defaults, user policies and templates, and what is refused.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

mod common;

use common::*;
use dataseal_policy::*;

#[test]
fn the_defaults_validate_and_every_policy_has_an_id_and_a_rule() {
    let engine = PolicyEngine::with_defaults().unwrap();
    assert_eq!(engine.policy_count(), (36, 1));
    assert_eq!(engine.policy_hash().len(), 64);
    for (file, text) in DEFAULT_POLICIES {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with("@id(") {
                assert!(
                    i > 0 && lines[i - 1].starts_with("//"),
                    "{file}: {line} has no comment stating its rule"
                );
            }
        }
    }
    // The hash is a function of the policies alone.
    assert_eq!(
        PolicyEngine::with_defaults().unwrap().policy_hash(),
        engine.policy_hash()
    );
}

#[test]
fn user_policies_and_templates_load_beside_the_defaults() {
    let extra = r#"
// No embedding of partner data.
@id("acme.no-embed-partner")
forbid (principal in Dataseal::Group::"partner", action == Dataseal::Action::"embed", resource);

// Evaluation access to one dataset.
@id("acme.template.evaluate")
permit (principal == ?principal, action == Dataseal::Action::"evaluate", resource in ?resource);
"#;
    let mut engine = PolicyEngine::builder()
        .policies("acme.cedar", extra)
        .build()
        .unwrap();
    assert_eq!(engine.policy_count(), (37, 2));
    let public = Spec {
        sensitivity: dataseal_manifest::Sensitivity::Public,
        ..Spec::default()
    };
    let mut w = World::with_engine(engine.clone(), &[("open", public)]);
    engine
        .add_link(&TemplateLink {
            template: "acme.template.evaluate".into(),
            id: "acme.pete.claims".into(),
            principal: Some(EntityRef::User(user("pete"))),
            resource: Some(EntityRef::Dataset("claims".parse().unwrap())),
        })
        .unwrap();
    w.engine = engine;
    let d = w.decide(&w.request(u("pete"), Action::Evaluate, "open", "evaluation", "DE"));
    assert_eq!(d.determining_policies(), ["acme.pete.claims"]);
    let d = w.decide(&w.request(u("pete"), Action::Read, "open", "research", "DE"));
    assert!(!d.is_allowed());
}

#[test]
fn bad_policies_are_refused_with_their_origin() {
    let cases = [
        ("permit (principal, action, resource);", "@id"),
        (
            "@id(\"role.trainer.data\") permit (principal, action, resource);",
            "role.trainer.data",
        ),
        (
            "@id(\"x\") permit (principal, action, resource) when { resource.shoeSize > 1 };",
            "validation",
        ),
        (
            "@id(\"x\") permit (principal, action, resource) when { context.purpose + 1 };",
            "validation",
        ),
        (
            "@id(\"x\") permit (principal, action == Dataseal::Action::\"fly\", resource);",
            "validation",
        ),
        ("@id(\"x\") permit (principal,", "mine.cedar"),
        (
            "@id(\" x\") permit (principal, action, resource);",
            "surrounding",
        ),
    ];
    for (text, needle) in cases {
        let e = PolicyEngine::builder()
            .policies("mine.cedar", text)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains(needle), "{text}: {e}");
    }
}

#[test]
fn links_are_checked() {
    let mut engine = PolicyEngine::with_defaults().unwrap();
    let link = |template: &str, principal: Option<EntityRef>| TemplateLink {
        template: template.into(),
        id: "l".into(),
        principal,
        resource: Some(EntityRef::Dataset("claims".parse().unwrap())),
    };
    assert!(
        engine
            .add_link(&link("no.such.template", Some(EntityRef::User(user("a")))))
            .is_err()
    );
    assert!(
        engine.add_link(&link(DATA_ACCESS_TEMPLATE, None)).is_err(),
        "slot left empty"
    );
    assert!(
        engine
            .add_link(&link("role.trainer.data", Some(EntityRef::User(user("a")))))
            .is_err()
    );
    let before = engine.policy_hash().to_owned();
    engine
        .add_link(&link(
            DATA_ACCESS_TEMPLATE,
            Some(EntityRef::User(user("a"))),
        ))
        .unwrap();
    assert_ne!(engine.policy_hash(), before);
    assert!(
        engine.remove_link("role.trainer.data").is_err(),
        "not a link"
    );
    engine.remove_link("l").unwrap();
    assert_eq!(engine.policy_hash(), before);
}
