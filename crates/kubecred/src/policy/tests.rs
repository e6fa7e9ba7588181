use super::*;

#[test]
fn purposes_parse_by_name_and_unknown_ones_are_listed() {
    for purpose in Purpose::ALL {
        assert_eq!(Purpose::parse(purpose.name()).ok(), Some(purpose));
    }
    let error = Purpose::parse("Registry\n").expect_err("case and control characters");
    let message = error.to_string();
    assert!(message.contains("registry, bucket, kms"), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

#[test]
fn a_documents_kind_is_its_own() {
    let d = document(
        "aws_iam_role",
        serde_json::json!({"roleName": "r", "kind": "spoofed"}),
    );
    assert_eq!(d["kind"], "aws_iam_role");
    assert_eq!(d["roleName"], "r");
}
