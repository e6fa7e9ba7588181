//! The STS Query API's XML answers, written by hand with escaped values.

use crate::aws::error::AwsError;
use crate::aws::state::Session;
use crate::clock::rfc3339;

/// The namespace of every STS answer.
const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Escapes text for XML element content (quotes need no escaping there).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// `<name>escaped value</name>`.
pub(crate) fn element(name: &str, value: &str) -> String {
    format!("<{name}>{}</{name}>", escape(value))
}

/// A successful answer: `<{action}Response><{action}Result>{result}</..>`
/// and the response metadata.
pub(crate) fn success(action: &str, result: &str, request_id: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{NAMESPACE}\">\n  <{action}Result>\n{result}  </{action}Result>\n  \
         <ResponseMetadata>\n    {}\n  </ResponseMetadata>\n</{action}Response>\n",
        element("RequestId", request_id)
    )
}

/// An error answer: `<ErrorResponse><Error><Type>Sender</Type>...`.
pub(crate) fn error(error: &AwsError, request_id: &str) -> String {
    let kind = if error.status() >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    format!(
        "<ErrorResponse xmlns=\"{NAMESPACE}\">\n  <Error>\n    {}\n    {}\n    {}\n  </Error>\n  {}\n</ErrorResponse>\n",
        element("Type", kind),
        element("Code", error.code()),
        element("Message", error.message()),
        element("RequestId", request_id)
    )
}

/// `<AssumedRoleUser>` and `<Credentials>` of a new session.
pub(crate) fn session(session: &Session) -> String {
    format!(
        "    <AssumedRoleUser>\n      {}\n      {}\n    </AssumedRoleUser>\n    <Credentials>\n      {}\n      {}\n      {}\n      {}\n    </Credentials>\n",
        element("Arn", &session.assumed_role_arn),
        element("AssumedRoleId", &session.assumed_role_id),
        element("AccessKeyId", &session.access_key_id),
        element("SecretAccessKey", &session.secret_access_key),
        element("SessionToken", &session.session_token),
        element("Expiration", &rfc3339(session.expires_at)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        assert_eq!(element("A", "<x&'\">"), "<A>&lt;x&amp;'\"&gt;</A>");
    }

    #[test]
    fn errors_have_the_sts_shape() {
        let err = AwsError::access_denied("no <way>");
        let xml = error(&err, "rid");
        assert!(
            xml.starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">")
        );
        assert!(xml.contains("<Type>Sender</Type>"));
        assert!(xml.contains("<Code>AccessDenied</Code>"));
        assert!(xml.contains("<Message>no &lt;way&gt;</Message>"));
        assert!(xml.contains("<RequestId>rid</RequestId>\n</ErrorResponse>"));
    }
}
