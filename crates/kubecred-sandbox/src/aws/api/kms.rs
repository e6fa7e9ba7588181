//! KMS (JSON 1.1): `DescribeKey` and `Decrypt`.

use serde_json::{Value, json};

use super::{Call, permit, text};
use crate::aws::error::AwsError;
use crate::aws::permissions::Need;
use crate::aws::state::AwsState;

pub(super) fn kms(
    state: &AwsState,
    call: &Call,
    operation: &str,
    input: &Value,
) -> Result<(String, Value), AwsError> {
    let key_id = text(input, "KeyId")?;
    let arn = match key_id.starts_with("arn:") {
        true => key_id.to_owned(),
        false => format!("arn:aws:kms:{}:{}:key/{key_id}", call.region, call.account),
    };
    let action = match operation {
        "DescribeKey" | "Decrypt" => format!("kms:{operation}"),
        _ => {
            return Err(AwsError::new(
                "UnknownOperationException",
                400,
                format!("Unknown operation TrentService.{operation}"),
            ));
        }
    };
    let need = Need {
        action: &action,
        resource: &arn,
        context: &[],
    };
    permit(state, call, need, "AccessDeniedException")?;
    if !state.config.resources.kms_keys.contains(&arn) {
        return Err(AwsError::new(
            "NotFoundException",
            400,
            format!("Key '{arn}' does not exist"),
        ));
    }
    let answer = match operation {
        "DescribeKey" => json!({"KeyMetadata": {
            "KeyId": arn.rsplit('/').next().unwrap_or_default(),
            "Arn": arn,
            "Enabled": true,
            "KeyState": "Enabled",
            "KeyUsage": "ENCRYPT_DECRYPT",
        }}),
        _ => json!({
            "KeyId": arn,
            "Plaintext": text(input, "CiphertextBlob")?,
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        }),
    };
    Ok((action, answer))
}
