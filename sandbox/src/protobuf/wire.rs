//! The protobuf wire format, as far as Kubernetes objects use it: varints and
//! length-delimited fields (fixed-width ones are read and skipped so a field
//! the schema does not know is reported by number, not misread).

/// One field as it appears on the wire.
#[derive(Debug, PartialEq)]
pub(crate) enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed64(u64),
    Fixed32(u32),
}

/// Splits a message into its fields, in wire order.
pub(crate) fn fields(mut bytes: &[u8]) -> Result<Vec<(u32, Value<'_>)>, String> {
    let mut fields = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let tag = u32::try_from(key >> 3).map_err(|_| "a field number is out of range")?;
        let value = match key & 7 {
            0 => Value::Varint(varint(&mut bytes)?),
            2 => {
                let length = usize::try_from(varint(&mut bytes)?)
                    .map_err(|_| "a length is out of range".to_string())?;
                let (value, rest) = bytes
                    .split_at_checked(length)
                    .ok_or_else(|| format!("field {tag} is cut short"))?;
                bytes = rest;
                Value::Bytes(value)
            }
            1 => {
                let (value, rest) = bytes
                    .split_first_chunk::<8>()
                    .ok_or_else(|| format!("field {tag} is cut short"))?;
                bytes = rest;
                Value::Fixed64(u64::from_le_bytes(*value))
            }
            5 => {
                let (value, rest) = bytes
                    .split_first_chunk::<4>()
                    .ok_or_else(|| format!("field {tag} is cut short"))?;
                bytes = rest;
                Value::Fixed32(u32::from_le_bytes(*value))
            }
            other => return Err(format!("field {tag} has wire type {other}, not used here")),
        };
        fields.push((tag, value));
    }
    Ok(fields)
}

fn varint(bytes: &mut &[u8]) -> Result<u64, String> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes
            .split_first()
            .ok_or_else(|| "a number is cut short".to_string())?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("a number is longer than ten bytes".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_varints_and_length_delimited_fields() {
        // field 1 = 150 (the protobuf guide's example), field 2 = "hi"
        let bytes = [0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i'];
        assert_eq!(
            fields(&bytes).unwrap(),
            vec![(1, Value::Varint(150)), (2, Value::Bytes(b"hi"))]
        );
    }

    #[test]
    fn a_cut_message_is_an_error_not_a_panic() {
        assert!(
            fields(&[0x12, 0x05, b'h'])
                .unwrap_err()
                .contains("cut short")
        );
        assert!(fields(&[0x08]).unwrap_err().contains("cut short"));
        assert!(
            fields(&[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ])
            .is_err()
        );
        assert!(fields(&[0x0b]).unwrap_err().contains("wire type 3"));
    }
}
