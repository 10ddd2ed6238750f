;; The stage's CSV rows for parsed log records, from the parser's byte spans
;; (sinks/logCsvKernel.ts sets up its memory and calls it; sinks/logCsvKernelBuild.ts turns
;; this text into sinks/logCsvKernelWasm.ts).
;; 16 bytes at a time: a field is loaded as one v128, checked for a byte that
;; needs quoting (`"`, `,`, `\r`; a span never holds `\n`), and stored whole.
;; Loads may read, and stores may write, up to 15 bytes past a field's end:
;; the caller pads every input region and the output by 16 bytes, and what a
;; store writes past a field is overwritten by what follows it.
(module
  (import "kernel" "memory" (memory 1))

  ;; Bytes [s, e) as a CSV field at o; returns the offset after it.
  (func $field (param $s i32) (param $e i32) (param $o i32) (result i32)
    (local $i i32) (local $p i32) (local $v v128) (local $rem i32) (local $m i32) (local $lim i32) (local $b i32)
    (if (i32.eq (local.get $s) (local.get $e))
      (then
        ;; An empty value is `""`.
        (i32.store16 align=1 (local.get $o) (i32.const 0x2222))
        (return (i32.add (local.get $o) (i32.const 2)))))
    (local.set $i (local.get $s))
    (local.set $p (local.get $o))
    (block $quoted
      (loop $words
        (local.set $v (v128.load align=1 (local.get $i)))
        (local.set $m
          (i8x16.bitmask
            (v128.or
              (v128.or
                (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x22)))
                (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x2c))))
              (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x0d))))))
        (local.set $rem (i32.sub (local.get $e) (local.get $i)))
        (if (i32.lt_u (local.get $rem) (i32.const 16))
          (then
            ;; The last word: only its first $rem bytes are the field's.
            (br_if $quoted (i32.and (local.get $m) (i32.sub (i32.shl (i32.const 1) (local.get $rem)) (i32.const 1))))
            (v128.store align=1 (local.get $p) (local.get $v))
            (return (i32.add (local.get $p) (local.get $rem)))))
        (br_if $quoted (local.get $m))
        (v128.store align=1 (local.get $p) (local.get $v))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br_if $words (i32.lt_u (local.get $i) (local.get $e))))
      (return (local.get $p)))

    ;; Quoted, from the field's start: `"`, the bytes with `"` doubled, `"`.
    (i32.store8 (local.get $o) (i32.const 0x22))
    (local.set $p (i32.add (local.get $o) (i32.const 1)))
    (local.set $i (local.get $s))
    (block $end
      (loop $words
        (br_if $end (i32.ge_u (local.get $i) (local.get $e)))
        (local.set $rem (i32.sub (local.get $e) (local.get $i)))
        (local.set $v (v128.load align=1 (local.get $i)))
        (local.set $m (i8x16.bitmask (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x22)))))
        (if (i32.lt_u (local.get $rem) (i32.const 16))
          (then (local.set $m (i32.and (local.get $m) (i32.sub (i32.shl (i32.const 1) (local.get $rem)) (i32.const 1)))))
          (else (local.set $rem (i32.const 16))))
        (if (i32.eqz (local.get $m))
          (then
            (v128.store align=1 (local.get $p) (local.get $v))
            (local.set $i (i32.add (local.get $i) (local.get $rem)))
            (local.set $p (i32.add (local.get $p) (local.get $rem)))
            (br $words)))
        ;; A `"` among these $rem bytes: byte by byte.
        (local.set $lim (i32.add (local.get $i) (local.get $rem)))
        (loop $bytes
          (local.set $b (i32.load8_u (local.get $i)))
          (if (i32.eq (local.get $b) (i32.const 0x22))
            (then
              (i32.store8 (local.get $p) (i32.const 0x22))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))))
          (i32.store8 (local.get $p) (local.get $b))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $bytes (i32.lt_u (local.get $i) (local.get $lim))))
        (br $words)))
    (i32.store8 (local.get $p) (i32.const 0x22))
    (i32.add (local.get $p) (i32.const 1)))

  ;; $len bytes from $s at $o, 16 at a time; returns $o + $len.
  (func $copy (param $s i32) (param $len i32) (param $o i32) (result i32)
    (local $i i32)
    (block $end
      (loop $words
        (br_if $end (i32.ge_u (local.get $i) (local.get $len)))
        (v128.store align=1 (i32.add (local.get $o) (local.get $i)) (v128.load align=1 (i32.add (local.get $s) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $words)))
    (i32.add (local.get $o) (local.get $len)))

  ;; The decimal digits of $v at $o; returns the offset after them.
  (func $uint (param $v i64) (param $o i32) (result i32)
    (local $n i32) (local $x i64) (local $p i32)
    (local.set $n (i32.const 1))
    (local.set $x (local.get $v))
    (block $counted
      (loop $count
        (br_if $counted (i64.lt_u (local.get $x) (i64.const 10)))
        (local.set $x (i64.div_u (local.get $x) (i64.const 10)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $count)))
    (local.set $p (i32.add (local.get $o) (local.get $n)))
    (local.set $x (local.get $v))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $x) (i64.const 10)))))
      (local.set $x (i64.div_u (local.get $x) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $x) (i64.const 0))))
    (i32.add (local.get $o) (local.get $n)))

  ;; Rows [$from, $to): per row, 30 i32s at $spans + 120 * row (14 [start, end)
  ;; pairs, then the block's own, unused here), each pair offset by $delta;
  ;; its line number an f64 at $lines + 8 * row. After the 14 fields, the
  ;; $sfLen bytes at $sf (`_source_file` as a field, and a comma), the line
  ;; number and `\n`. Returns the offset after the last row.
  (func (export "encodeRows") (param $spans i32) (param $lines i32) (param $from i32) (param $to i32) (param $delta i32) (param $sf i32) (param $sfLen i32) (param $o i32) (result i32)
    (local $r i32) (local $at i32) (local $last i32)
    (local.set $r (local.get $from))
    (block $end
      (loop $row
        (br_if $end (i32.ge_u (local.get $r) (local.get $to)))
        (local.set $at (i32.add (local.get $spans) (i32.mul (local.get $r) (i32.const 120))))
        (local.set $last (i32.add (local.get $at) (i32.const 112)))
        (loop $fields
          (local.set $o
            (call $field
              (i32.add (i32.load align=4 (local.get $at)) (local.get $delta))
              (i32.add (i32.load offset=4 align=4 (local.get $at)) (local.get $delta))
              (local.get $o)))
          (i32.store8 (local.get $o) (i32.const 0x2c))
          (local.set $o (i32.add (local.get $o) (i32.const 1)))
          (local.set $at (i32.add (local.get $at) (i32.const 8)))
          (br_if $fields (i32.lt_u (local.get $at) (local.get $last))))
        (local.set $o (call $copy (local.get $sf) (local.get $sfLen) (local.get $o)))
        (local.set $o
          (call $uint
            (i64.trunc_sat_f64_u (f64.load (i32.add (local.get $lines) (i32.shl (local.get $r) (i32.const 3)))))
            (local.get $o)))
        (i32.store8 (local.get $o) (i32.const 0x0a))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row)))
    (local.get $o)))
