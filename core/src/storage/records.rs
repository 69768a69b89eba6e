//! On-disk record formats (rkyv). Values read from redb are not aligned for rkyv's
//! zero-copy access, so decoding copies them into an aligned buffer first; records are small
//! and the copy is cheaper than a validation failure.
#![allow(missing_docs)] // fields mirror the documented model types one to one

use crate::error::{err, ErrorKind, Result};
use crate::model::{Customer, Message, Role, Score};
use rkyv::{Archive, Deserialize, Serialize};

/// Stored form of a [`Customer`]; JSON attributes are kept as text.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CustomerRec {
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub department: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub attributes: String,
}

/// Stored form of a [`Score`].
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ScoreRec {
    pub customer_id: String,
    pub score_type: String,
    pub score: f64,
    pub confidence: f64,
    pub created_at: i64,
    pub model: Option<String>,
    /// Insertion sequence: breaks ties between scores with the same `created_at`.
    pub seq: u64,
}

/// Stored form of a [`Message`].
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MessageRec {
    pub id: u64,
    pub customer_id: String,
    pub conversation_id: String,
    pub role: u8,
    pub timestamp: i64,
    pub content: String,
    pub metadata: String,
}

/// Serialises a record.
pub fn encode<T>(v: &T) -> Result<Vec<u8>>
where
    T: for<'a> Serialize<rkyv::api::high::HighSerializer<rkyv::util::AlignedVec, rkyv::ser::allocator::ArenaHandle<'a>, rkyv::rancor::Error>>,
{
    rkyv::to_bytes::<rkyv::rancor::Error>(v)
        .map(|b| b.into_vec())
        .map_err(|e| err(ErrorKind::Internal, format!("cannot encode record: {e}")))
}

/// Deserialises a record, copying into an aligned buffer first.
pub fn decode<T>(bytes: &[u8]) -> Result<T>
where
    T: Archive,
    T::Archived: for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'a, rkyv::rancor::Error>>
        + Deserialize<T, rkyv::api::high::HighDeserializer<rkyv::rancor::Error>>,
{
    let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(bytes.len());
    aligned.extend_from_slice(bytes);
    rkyv::from_bytes::<T, rkyv::rancor::Error>(&aligned)
        .map_err(|e| err(ErrorKind::Corrupted, format!("stored record failed validation: {e}")))
}

fn json(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| err(ErrorKind::Corrupted, format!("stored JSON is invalid: {e}")))
}

impl CustomerRec {
    /// From the model type.
    pub fn from_model(c: &Customer) -> CustomerRec {
        CustomerRec {
            id: c.id.clone(),
            email: c.email.clone(),
            name: c.name.clone(),
            department: c.department.clone(),
            status: c.status.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            attributes: c.attributes.to_string(),
        }
    }

    /// Into the `customers` row of `tenant` (what `schema::customer_row` gives for the
    /// model), moving the strings instead of copying them.
    pub fn into_row(self, tenant: &str) -> crate::schema::Row {
        use crate::schema::Value;
        vec![
            Value::Text(self.id),
            Value::Text(tenant.to_string()),
            self.email.map_or(Value::Null, Value::Text),
            self.name.map_or(Value::Null, Value::Text),
            Value::Text(self.department),
            Value::Text(self.status),
            Value::Int(self.created_at),
            Value::Int(self.updated_at),
            Value::Json(self.attributes),
        ]
    }

    /// Into the model type.
    pub fn into_model(self) -> Result<Customer> {
        Ok(Customer {
            attributes: json(&self.attributes)?,
            id: self.id,
            email: self.email,
            name: self.name,
            department: self.department,
            status: self.status,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

impl ScoreRec {
    /// From the model type with its sequence number.
    pub fn from_model(s: &Score, seq: u64) -> ScoreRec {
        ScoreRec {
            customer_id: s.customer_id.clone(),
            score_type: s.score_type.clone(),
            score: s.score,
            confidence: s.confidence,
            created_at: s.created_at,
            model: s.model.clone(),
            seq,
        }
    }

    /// Into the model type.
    pub fn into_model(self) -> Score {
        Score {
            customer_id: self.customer_id,
            score_type: self.score_type,
            score: self.score,
            confidence: self.confidence,
            created_at: self.created_at,
            model: self.model,
        }
    }
}

fn role_code(r: Role) -> u8 {
    Role::ALL.iter().position(|x| *x == r).unwrap_or(0) as u8
}

/// Decodes a stored message when its role is `role` (any role when None): the role is read
/// from the validated archive first, so a message of another role costs no deserialising
/// and no JSON parsing.
pub fn decode_message_if(bytes: &[u8], role: Option<Role>) -> Result<Option<Message>> {
    let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(bytes.len());
    aligned.extend_from_slice(bytes);
    let corrupt = |e: rkyv::rancor::Error| err(ErrorKind::Corrupted, format!("stored record failed validation: {e}"));
    let archived = rkyv::access::<ArchivedMessageRec, rkyv::rancor::Error>(&aligned).map_err(corrupt)?;
    if let Some(want) = role {
        // An unknown code falls through to `into_model`, which reports it as corruption.
        if archived.role != role_code(want) && (archived.role as usize) < Role::ALL.len() {
            return Ok(None);
        }
    }
    let rec = rkyv::deserialize::<MessageRec, rkyv::rancor::Error>(archived).map_err(corrupt)?;
    rec.into_model().map(Some)
}

impl MessageRec {
    /// From the model type.
    pub fn from_model(m: &Message) -> MessageRec {
        MessageRec {
            id: m.id,
            customer_id: m.customer_id.clone(),
            conversation_id: m.conversation_id.clone(),
            role: role_code(m.role),
            timestamp: m.timestamp,
            content: m.content.clone(),
            metadata: m.metadata.to_string(),
        }
    }

    /// Into the model type.
    pub fn into_model(self) -> Result<Message> {
        let role = *Role::ALL
            .get(self.role as usize)
            .ok_or_else(|| err(ErrorKind::Corrupted, format!("stored role code {} is unknown", self.role)))?;
        Ok(Message {
            metadata: json(&self.metadata)?,
            id: self.id,
            customer_id: self.customer_id,
            conversation_id: self.conversation_id,
            role,
            timestamp: self.timestamp,
            content: self.content,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_message_if_filters_on_the_role_and_keeps_the_rest() {
        for (i, &role) in Role::ALL.iter().enumerate() {
            let m = Message {
                id: i as u64 + 1,
                customer_id: "c1".into(),
                conversation_id: "conv".into(),
                role,
                timestamp: 1_000 + i as i64,
                content: format!("hello {i}"),
                metadata: serde_json::json!({ "n": i }),
            };
            let bytes = encode(&MessageRec::from_model(&m)).unwrap();
            assert_eq!(decode_message_if(&bytes, None).unwrap().as_ref(), Some(&m));
            for want in Role::ALL {
                let got = decode_message_if(&bytes, Some(want)).unwrap();
                assert_eq!(got.as_ref(), (want == role).then_some(&m), "{role:?} filtered by {want:?}");
            }
        }
        // An unknown role code is corruption whatever the filter.
        let mut rec = MessageRec::from_model(&Message {
            id: 9,
            customer_id: "c".into(),
            conversation_id: "v".into(),
            role: Role::User,
            timestamp: 0,
            content: String::new(),
            metadata: serde_json::json!({}),
        });
        rec.role = 200;
        let bytes = encode(&rec).unwrap();
        for f in [None, Some(Role::User), Some(Role::Tool)] {
            let e = decode_message_if(&bytes, f).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Corrupted);
        }
        assert_eq!(decode_message_if(b"garbage", Some(Role::User)).unwrap_err().kind(), ErrorKind::Corrupted);
    }

    #[test]
    fn customer_into_row_is_customer_row() {
        let mut c = Customer {
            id: "c1".into(),
            email: Some("a@b.c".into()),
            name: None,
            department: "sales".into(),
            status: "active".into(),
            created_at: 5,
            updated_at: 7,
            attributes: serde_json::json!({"plan": "pro", "seats": 3, "ratio": 0.25}),
        };
        for _ in 0..2 {
            let rec = CustomerRec::from_model(&c);
            assert_eq!(rec.into_row("t1"), crate::schema::customer_row("t1", &c));
            c.email = None;
            c.name = Some("Ann".into());
        }
    }
}
