/**
 * Wire bytes of a NEWER federation contract, built by hand, for the version-tolerance tests:
 * what a v2 site or hub would send that this (v1) code has never heard of. proto3 rules make
 * the older side skip unknown fields and unknown oneof cases; these helpers let a test prove
 * that our generated code and our handlers do exactly that (and nothing worse).
 *
 *   withUnknownFields(Hello.encode(h).finish())     a Hello carrying fields 40 (string) and 41 (varint)
 *   unknownCase(12, bytes)                          a SiteMessage/HubMessage whose oneof case is 12
 */
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

/** Append a string field and a varint field with numbers this contract does not define. */
export function withUnknownFields(message: Uint8Array, stringField = 40, varintField = 41): Uint8Array {
  const w = new BinaryWriter();
  w.raw(message);
  w.tag(stringField, WireType.LengthDelimited).string('a v2 field this side never heard of');
  w.tag(varintField, WireType.Varint).uint64(123456789);
  return w.finish();
}

/** A message whose only field is an unknown (newer) oneof case, carrying `payload`. */
export function unknownCase(fieldNumber: number, payload: Uint8Array = new Uint8Array([8, 1])): Uint8Array {
  const w = new BinaryWriter();
  w.tag(fieldNumber, WireType.LengthDelimited).bytes(payload);
  return w.finish();
}

/** Wrap a sub-message's bytes as field `fieldNumber` of an outer message. */
export function asField(fieldNumber: number, inner: Uint8Array): Uint8Array {
  const w = new BinaryWriter();
  w.tag(fieldNumber, WireType.LengthDelimited).bytes(inner);
  return w.finish();
}
