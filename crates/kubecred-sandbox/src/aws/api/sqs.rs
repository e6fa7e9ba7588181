//! SQS (JSON 1.0): `GetQueueUrl`, `ReceiveMessage` and `DeleteMessage`.

use serde_json::{Value, json};

use super::{Call, permit, text};
use crate::aws::error::AwsError;
use crate::aws::permissions::Need;
use crate::aws::state::AwsState;

pub(super) fn sqs(
    state: &AwsState,
    call: &Call,
    operation: &str,
    input: &Value,
) -> Result<(String, Value), AwsError> {
    let action = format!("sqs:{operation}");
    let (account, name) = match operation {
        "GetQueueUrl" => (
            input["QueueOwnerAWSAccountId"]
                .as_str()
                .unwrap_or(&call.account)
                .to_owned(),
            text(input, "QueueName")?.to_owned(),
        ),
        "ReceiveMessage" | "DeleteMessage" => {
            let url = text(input, "QueueUrl")?;
            let mut segments = url.rsplit('/');
            match (segments.next(), segments.next()) {
                (Some(name), Some(account)) if !name.is_empty() => {
                    (account.to_owned(), name.to_owned())
                }
                _ => return Err(AwsError::validation("QueueUrl is not .../ACCOUNT/QUEUE")),
            }
        }
        _ => {
            return Err(AwsError::new(
                "UnknownOperationException",
                400,
                format!("Unknown operation AmazonSQS.{operation}"),
            ));
        }
    };
    let arn = format!("arn:aws:sqs:{}:{account}:{name}", call.region);
    let need = Need {
        action: &action,
        resource: &arn,
        context: &[],
    };
    permit(state, call, need, "AccessDenied")?;
    if !state.config.resources.sqs_queues.contains(&arn) {
        return Err(AwsError::new(
            "QueueDoesNotExist",
            400,
            "The specified queue does not exist.",
        ));
    }
    let answer = match operation {
        "GetQueueUrl" => {
            json!({"QueueUrl": format!("https://sqs.{}.amazonaws.com/{account}/{name}", call.region)})
        }
        "ReceiveMessage" => json!({"Messages": []}),
        _ => json!({}),
    };
    Ok((action, answer))
}
