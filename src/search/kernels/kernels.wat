;; Scoring kernels in WebAssembly SIMD over the caller's memory (imported as env.memory, managed by arena.ts).
;; Every pointer is a byte offset into that memory; `dims` is a multiple of 16, at most 1024 (wasm-kernels.ts wasmDims).
;; Built to kernels.wasm by scripts/build-kernels.ts (wabt); the TypeScript side is wasm-kernels.ts.
(module
  (import "env" "memory" (memory 1))

  ;; Sum of the four i32 lanes.
  (func $sum_i32x4 (param $v v128) (result i32)
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
      (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))

;; sum_d q16[d] * row[d] over dims int8 lanes (q16: the query quantized to int16, 2*dims bytes). The int32 sum
  ;; cannot overflow when dims * 128 * max|q16| < 2^31 (query.ts quantizeQuery16 picks the scale so).
  (func $dot_row (param $qp i32) (param $row i32) (param $dims i32) (result i32)
    (local $end i32) (local $acc v128)
    (local.set $end (i32.add (local.get $row) (local.get $dims)))
    (loop $lanes
      (local.set $acc (i32x4.add (local.get $acc)
        (i32x4.dot_i16x8_s (v128.load8x8_s (local.get $row)) (v128.load (local.get $qp)))))
      (local.set $acc (i32x4.add (local.get $acc)
        (i32x4.dot_i16x8_s (v128.load8x8_s offset=8 (local.get $row)) (v128.load offset=16 (local.get $qp)))))
      (local.set $qp (i32.add (local.get $qp) (i32.const 32)))
      (br_if $lanes (i32.lt_u (local.tee $row (i32.add (local.get $row) (i32.const 16))) (local.get $end))))
    (call $sum_i32x4 (local.get $acc)))

  ;; out[i] = (qinv * f32(q16 · vectors[i])) * scales[i], for i < count. Rows go in fours that share the query
  ;; loads; their four sums are gathered into one vector, so the float step runs four lanes at a time with the
  ;; rounding of the one-row form (f32 convert, then multiply by qinv, then by the scale).
  (func (export "int8_scores")
    (param $q16 i32) (param $dims i32) (param $vectors i32) (param $scales i32) (param $count i32)
    (param $qinv f32) (param $out i32)
    (local $quadsEnd i32) (local $end i32) (local $qp i32) (local $p i32) (local $rowEnd i32)
    (local $d2 i32) (local $d3 i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $q v128) (local $qinv4 v128)
    (local.set $d2 (i32.shl (local.get $dims) (i32.const 1)))
    (local.set $d3 (i32.add (local.get $d2) (local.get $dims)))
    (local.set $qinv4 (f32x4.splat (local.get $qinv)))
    (local.set $quadsEnd (i32.add (local.get $vectors)
      (i32.mul (i32.and (local.get $count) (i32.const -4)) (local.get $dims))))
    (block $quadsDone
      (br_if $quadsDone (i32.lt_u (local.get $count) (i32.const 4)))
      (loop $quads
        (local.set $a (v128.const i32x4 0 0 0 0))
        (local.set $b (v128.const i32x4 0 0 0 0))
        (local.set $c (v128.const i32x4 0 0 0 0))
        (local.set $d (v128.const i32x4 0 0 0 0))
        (local.set $qp (local.get $q16))
        (local.set $p (local.get $vectors))
        (local.set $rowEnd (i32.add (local.get $vectors) (local.get $dims)))
        (loop $lanes
          (local.set $q (v128.load (local.get $qp)))
          (local.set $a (i32x4.add (local.get $a) (i32x4.dot_i16x8_s (v128.load8x8_s (local.get $p)) (local.get $q))))
          (local.set $b (i32x4.add (local.get $b) (i32x4.dot_i16x8_s
            (v128.load8x8_s (i32.add (local.get $p) (local.get $dims))) (local.get $q))))
          (local.set $c (i32x4.add (local.get $c) (i32x4.dot_i16x8_s
            (v128.load8x8_s (i32.add (local.get $p) (local.get $d2))) (local.get $q))))
          (local.set $d (i32x4.add (local.get $d) (i32x4.dot_i16x8_s
            (v128.load8x8_s (i32.add (local.get $p) (local.get $d3))) (local.get $q))))
          (local.set $q (v128.load offset=16 (local.get $qp)))
          (local.set $a (i32x4.add (local.get $a) (i32x4.dot_i16x8_s (v128.load8x8_s offset=8 (local.get $p)) (local.get $q))))
          (local.set $b (i32x4.add (local.get $b) (i32x4.dot_i16x8_s
            (v128.load8x8_s offset=8 (i32.add (local.get $p) (local.get $dims))) (local.get $q))))
          (local.set $c (i32x4.add (local.get $c) (i32x4.dot_i16x8_s
            (v128.load8x8_s offset=8 (i32.add (local.get $p) (local.get $d2))) (local.get $q))))
          (local.set $d (i32x4.add (local.get $d) (i32x4.dot_i16x8_s
            (v128.load8x8_s offset=8 (i32.add (local.get $p) (local.get $d3))) (local.get $q))))
          (local.set $qp (i32.add (local.get $qp) (i32.const 32)))
          (br_if $lanes (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 16))) (local.get $rowEnd))))
        ;; [sum a, sum b, sum c, sum d]: pairwise lane sums of (a, b) and (c, d), then of those
        (local.set $a (i32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $b))))
        (local.set $c (i32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c) (local.get $d))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c) (local.get $d))))
        (local.set $a (i32x4.add
          (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $a) (local.get $c))
          (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $a) (local.get $c))))
        (v128.store (local.get $out)
          (f32x4.mul (f32x4.mul (f32x4.convert_i32x4_s (local.get $a)) (local.get $qinv4)) (v128.load (local.get $scales))))
        (local.set $vectors (i32.add (local.get $vectors) (i32.shl (local.get $dims) (i32.const 2))))
        (local.set $scales (i32.add (local.get $scales) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br_if $quads (i32.lt_u (local.get $vectors) (local.get $quadsEnd)))))
    ;; the last count % 4 rows, one at a time
    (local.set $end (i32.add (local.get $quadsEnd) (i32.mul (i32.and (local.get $count) (i32.const 3)) (local.get $dims))))
    (block $rowsDone
      (br_if $rowsDone (i32.ge_u (local.get $vectors) (local.get $end)))
      (loop $rows
        (f32.store (local.get $out)
          (f32.mul (f32.mul (f32.convert_i32_s (call $dot_row (local.get $q16) (local.get $vectors) (local.get $dims)))
                            (local.get $qinv))
                   (f32.load (local.get $scales))))
        (local.set $scales (i32.add (local.get $scales) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $rows (i32.lt_u (local.tee $vectors (i32.add (local.get $vectors) (local.get $dims))) (local.get $end))))))

  ;; int4 rows (int4.ts: dims / 2 bytes a row; byte j of each 16 holds dim j in its low nibble and dim 16 + j in its
  ;; high one, of the 32 dims of its group, each value v stored as v + 8): out[i] = (qinv * f32(q16 · v_i)) * scales[i],
  ;; for i < count, with the rounding of int8_scores. A nibble is taken with one mask (as 0..15, unsigned); the sum over
  ;; the stored values is q16 · v_i + 8 * sum(q16), so 8 * sum(q16) is subtracted once a row. dims is a multiple of 32.
  ;; Rows go in fours that share the query loads.
  (func (export "int4_scores")
    (param $q16 i32) (param $dims i32) (param $packed i32) (param $scales i32) (param $count i32)
    (param $qinv f32) (param $out i32)
    (local $h i32) (local $h2 i32) (local $h3 i32) (local $quadsEnd i32) (local $end i32) (local $qp i32) (local $p i32)
    (local $rowEnd i32) (local $bias i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $x v128) (local $lo v128) (local $hi v128)
    (local $q0 v128) (local $q1 v128) (local $q2 v128) (local $q3 v128) (local $qinv4 v128) (local $mask v128) (local $bias4 v128)
    (local.set $h (i32.shr_u (local.get $dims) (i32.const 1)))
    (local.set $h2 (i32.shl (local.get $h) (i32.const 1)))
    (local.set $h3 (i32.add (local.get $h2) (local.get $h)))
    (local.set $qinv4 (f32x4.splat (local.get $qinv)))
    (local.set $mask (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))
    ;; bias = 8 * sum(q16): the query's lanes summed (each pair by a dot with 1s), times 8
    (local.set $a (v128.const i32x4 0 0 0 0))
    (local.set $qp (local.get $q16))
    (local.set $end (i32.add (local.get $q16) (i32.shl (local.get $dims) (i32.const 1))))
    (loop $qsum
      (local.set $a (i32x4.add (local.get $a) (i32x4.dot_i16x8_s (v128.load (local.get $qp)) (v128.const i16x8 1 1 1 1 1 1 1 1))))
      (br_if $qsum (i32.lt_u (local.tee $qp (i32.add (local.get $qp) (i32.const 16))) (local.get $end))))
    (local.set $bias (i32.shl (call $sum_i32x4 (local.get $a)) (i32.const 3)))
    (local.set $bias4 (i32x4.splat (local.get $bias)))
    (local.set $quadsEnd (i32.add (local.get $packed)
      (i32.mul (i32.and (local.get $count) (i32.const -4)) (local.get $h))))
    (block $quadsDone
      (br_if $quadsDone (i32.lt_u (local.get $count) (i32.const 4)))
      (loop $quads
        (local.set $a (v128.const i32x4 0 0 0 0))
        (local.set $b (v128.const i32x4 0 0 0 0))
        (local.set $c (v128.const i32x4 0 0 0 0))
        (local.set $d (v128.const i32x4 0 0 0 0))
        (local.set $qp (local.get $q16))
        (local.set $p (local.get $packed))
        (local.set $rowEnd (i32.add (local.get $packed) (local.get $h)))
        (loop $groups
          (local.set $q0 (v128.load (local.get $qp)))
          (local.set $q1 (v128.load offset=16 (local.get $qp)))
          (local.set $q2 (v128.load offset=32 (local.get $qp)))
          (local.set $q3 (v128.load offset=48 (local.get $qp)))
          (local.set $x (v128.load (local.get $p)))
          (local.set $lo (v128.and (local.get $x) (local.get $mask)))
          (local.set $hi (v128.and (i16x8.shr_u (local.get $x) (i32.const 4)) (local.get $mask)))
          (local.set $a (i32x4.add (local.get $a) (i32x4.add
            (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $lo)) (local.get $q0))
                       (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $lo)) (local.get $q1)))
            (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $hi)) (local.get $q2))
                       (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $hi)) (local.get $q3))))))
          (local.set $x (v128.load (i32.add (local.get $p) (local.get $h))))
          (local.set $lo (v128.and (local.get $x) (local.get $mask)))
          (local.set $hi (v128.and (i16x8.shr_u (local.get $x) (i32.const 4)) (local.get $mask)))
          (local.set $b (i32x4.add (local.get $b) (i32x4.add
            (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $lo)) (local.get $q0))
                       (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $lo)) (local.get $q1)))
            (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $hi)) (local.get $q2))
                       (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $hi)) (local.get $q3))))))
          (local.set $x (v128.load (i32.add (local.get $p) (local.get $h2))))
          (local.set $lo (v128.and (local.get $x) (local.get $mask)))
          (local.set $hi (v128.and (i16x8.shr_u (local.get $x) (i32.const 4)) (local.get $mask)))
          (local.set $c (i32x4.add (local.get $c) (i32x4.add
            (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $lo)) (local.get $q0))
                       (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $lo)) (local.get $q1)))
            (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $hi)) (local.get $q2))
                       (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $hi)) (local.get $q3))))))
          (local.set $x (v128.load (i32.add (local.get $p) (local.get $h3))))
          (local.set $lo (v128.and (local.get $x) (local.get $mask)))
          (local.set $hi (v128.and (i16x8.shr_u (local.get $x) (i32.const 4)) (local.get $mask)))
          (local.set $d (i32x4.add (local.get $d) (i32x4.add
            (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $lo)) (local.get $q0))
                       (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $lo)) (local.get $q1)))
            (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $hi)) (local.get $q2))
                       (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $hi)) (local.get $q3))))))
          (local.set $qp (i32.add (local.get $qp) (i32.const 64)))
          (br_if $groups (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 16))) (local.get $rowEnd))))
        ;; [sum a, sum b, sum c, sum d], as in int8_scores, less the bias
        (local.set $a (i32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $b))))
        (local.set $c (i32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c) (local.get $d))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c) (local.get $d))))
        (local.set $a (i32x4.sub (i32x4.add
          (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $a) (local.get $c))
          (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $a) (local.get $c))) (local.get $bias4)))
        (v128.store (local.get $out)
          (f32x4.mul (f32x4.mul (f32x4.convert_i32x4_s (local.get $a)) (local.get $qinv4)) (v128.load (local.get $scales))))
        (local.set $packed (i32.add (local.get $packed) (i32.shl (local.get $h) (i32.const 2))))
        (local.set $scales (i32.add (local.get $scales) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br_if $quads (i32.lt_u (local.get $packed) (local.get $quadsEnd)))))
    ;; the last count % 4 rows, one at a time
    (local.set $end (i32.add (local.get $quadsEnd) (i32.mul (i32.and (local.get $count) (i32.const 3)) (local.get $h))))
    (block $rowsDone
      (br_if $rowsDone (i32.ge_u (local.get $packed) (local.get $end)))
      (loop $rows
        (local.set $a (v128.const i32x4 0 0 0 0))
        (local.set $qp (local.get $q16))
        (local.set $p (local.get $packed))
        (local.set $rowEnd (i32.add (local.get $packed) (local.get $h)))
        (loop $groups1
          (local.set $q0 (v128.load (local.get $qp)))
          (local.set $q1 (v128.load offset=16 (local.get $qp)))
          (local.set $q2 (v128.load offset=32 (local.get $qp)))
          (local.set $q3 (v128.load offset=48 (local.get $qp)))
          (local.set $x (v128.load (local.get $p)))
          (local.set $lo (v128.and (local.get $x) (local.get $mask)))
          (local.set $hi (v128.and (i16x8.shr_u (local.get $x) (i32.const 4)) (local.get $mask)))
          (local.set $a (i32x4.add (local.get $a) (i32x4.add
            (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $lo)) (local.get $q0))
                       (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $lo)) (local.get $q1)))
            (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $hi)) (local.get $q2))
                       (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $hi)) (local.get $q3))))))
          (local.set $qp (i32.add (local.get $qp) (i32.const 64)))
          (br_if $groups1 (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 16))) (local.get $rowEnd))))
        (f32.store (local.get $out)
          (f32.mul (f32.mul (f32.convert_i32_s (i32.sub (call $sum_i32x4 (local.get $a)) (local.get $bias))) (local.get $qinv))
                   (f32.load (local.get $scales))))
        (local.set $scales (i32.add (local.get $scales) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $rows (i32.lt_u (local.tee $packed (i32.add (local.get $packed) (local.get $h))) (local.get $end))))))

  ;; Nibbles of 16 int8 values: floor(f32(f32(v * f) + 0.5)) for each, as i8 lanes (int4.ts int4Nibble).
  (func $nibbles16 (param $x v128) (param $f4 v128) (result v128)
    (local $lo v128) (local $hi v128) (local $half v128)
    (local.set $half (f32x4.splat (f32.const 0.5)))
    (local.set $lo (i16x8.extend_low_i8x16_s (local.get $x)))
    (local.set $hi (i16x8.extend_high_i8x16_s (local.get $x)))
    (i8x16.narrow_i16x8_s
      (i16x8.narrow_i32x4_s
        (i32x4.trunc_sat_f32x4_s (f32x4.floor (f32x4.add (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $lo))) (local.get $f4)) (local.get $half))))
        (i32x4.trunc_sat_f32x4_s (f32x4.floor (f32x4.add (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $lo))) (local.get $f4)) (local.get $half)))))
      (i16x8.narrow_i32x4_s
        (i32x4.trunc_sat_f32x4_s (f32x4.floor (f32x4.add (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $hi))) (local.get $f4)) (local.get $half))))
        (i32x4.trunc_sat_f32x4_s (f32x4.floor (f32x4.add (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $hi))) (local.get $f4)) (local.get $half)))))))

  ;; int8 rows to int4 rows (int4.ts toInt4): per row, m = max |v|, f = f32(7 / m), each value by $nibbles16,
  ;; stored as v + 8 two to a byte in groups of 32 dims, and scales4[i] = f32(f32(scales[i] * m) / 7); a zero row
  ;; is all zero (stored 0x88) with scale 0. dims is a multiple of 32.
  (func (export "int8_to_int4")
    (param $vectors i32) (param $scales i32) (param $count i32) (param $dims i32) (param $packed i32) (param $scales4 i32)
    (local $i i32) (local $row i32) (local $p i32) (local $end i32) (local $m i32) (local $acc v128) (local $f4 v128)
    (local $fm f32) (local $out i32)
    (block $done
      (br_if $done (i32.eqz (local.get $count)))
      (loop $rows
        (local.set $row (i32.add (local.get $vectors) (i32.mul (local.get $i) (local.get $dims))))
        (local.set $end (i32.add (local.get $row) (local.get $dims)))
        (local.set $out (i32.add (local.get $packed) (i32.mul (local.get $i) (i32.shr_u (local.get $dims) (i32.const 1)))))
        ;; m: the largest |v| of the row (|-128| is 128 as an unsigned lane)
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $p (local.get $row))
        (loop $max
          (local.set $acc (i8x16.max_u (local.get $acc) (i8x16.abs (v128.load (local.get $p)))))
          (br_if $max (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 16))) (local.get $end))))
        (local.set $acc (i8x16.max_u (local.get $acc) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $acc) (local.get $acc))))
        (local.set $acc (i8x16.max_u (local.get $acc) (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $acc) (local.get $acc))))
        (local.set $acc (i8x16.max_u (local.get $acc) (i8x16.shuffle 2 3 0 1 2 3 0 1 2 3 0 1 2 3 0 1 (local.get $acc) (local.get $acc))))
        (local.set $acc (i8x16.max_u (local.get $acc) (i8x16.shuffle 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 (local.get $acc) (local.get $acc))))
        (local.set $m (i8x16.extract_lane_u 0 (local.get $acc)))
        (local.set $fm (f32.convert_i32_u (local.get $m)))
        (f32.store (i32.add (local.get $scales4) (i32.shl (local.get $i) (i32.const 2)))
          (f32.div (f32.mul (f32.load (i32.add (local.get $scales) (i32.shl (local.get $i) (i32.const 2)))) (local.get $fm)) (f32.const 7)))
        ;; a zero row: f = 0 makes every value floor(0.5) = 0 (nibble 8)
        (local.set $f4 (f32x4.splat (if (result f32) (local.get $m) (then (f32.div (f32.const 7) (local.get $fm))) (else (f32.const 0)))))
        (local.set $p (local.get $row))
        (loop $groups
          (v128.store (local.get $out)
            (v128.or
              (i8x16.add (call $nibbles16 (v128.load (local.get $p)) (local.get $f4)) (v128.const i8x16 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8))
              (i8x16.shl (i8x16.add (call $nibbles16 (v128.load offset=16 (local.get $p)) (local.get $f4)) (v128.const i8x16 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8)) (i32.const 4))))
          (local.set $out (i32.add (local.get $out) (i32.const 16)))
          (br_if $groups (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 32))) (local.get $end))))
        (br_if $rows (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $count))))))

  ;; out[j] = qinv * scales[r] * (q16 · vectors[r]) for r = rows[j] (u32), j < count: rescoring chosen rows.
  (func (export "int8_row_scores")
    (param $q16 i32) (param $dims i32) (param $vectors i32) (param $scales i32) (param $rows i32) (param $count i32)
    (param $qinv f32) (param $out i32)
    (local $end i32) (local $r i32)
    (local.set $end (i32.add (local.get $rows) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (br_if $done (i32.eqz (local.get $count)))
      (loop $each
        (local.set $r (i32.load (local.get $rows)))
        (f32.store (local.get $out)
          (f32.mul
            (f32.mul (f32.convert_i32_s (call $dot_row (local.get $q16)
                       (i32.add (local.get $vectors) (i32.mul (local.get $r) (local.get $dims))) (local.get $dims)))
                     (local.get $qinv))
            (f32.load (i32.add (local.get $scales) (i32.shl (local.get $r) (i32.const 2))))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $each (i32.lt_u (local.tee $rows (i32.add (local.get $rows) (i32.const 4))) (local.get $end))))))

  ;; Asymmetric byte tables (the layout of score.ts binaryTables): tables[j*256 + b] = sum over set bits t of b of
  ;; 2*q[8j+t], minus the sum of q[8j..8j+7]. Built incrementally: t[b] = t[b with its lowest bit cleared] + 2*q[lowest bit].
  (func (export "binary_tables") (param $query i32) (param $dims i32) (param $tables i32)
    (local $end i32) (local $b i32) (local $total f32)
    (local.set $end (i32.add (local.get $query) (i32.shl (local.get $dims) (i32.const 2))))
    (loop $bytes
      (local.set $total
        (f32.add
          (f32.add (f32.add (f32.load (local.get $query)) (f32.load offset=4 (local.get $query)))
                   (f32.add (f32.load offset=8 (local.get $query)) (f32.load offset=12 (local.get $query))))
          (f32.add (f32.add (f32.load offset=16 (local.get $query)) (f32.load offset=20 (local.get $query)))
                   (f32.add (f32.load offset=24 (local.get $query)) (f32.load offset=28 (local.get $query))))))
      (f32.store (local.get $tables) (f32.neg (local.get $total)))
      (local.set $b (i32.const 1))
      (loop $entries
        (f32.store (i32.add (local.get $tables) (i32.shl (local.get $b) (i32.const 2)))
          (f32.add
            (f32.load (i32.add (local.get $tables)
              (i32.shl (i32.and (local.get $b) (i32.sub (local.get $b) (i32.const 1))) (i32.const 2))))
            (f32.mul (f32.const 2)
              (f32.load (i32.add (local.get $query) (i32.shl (i32.ctz (local.get $b)) (i32.const 2)))))))
        (br_if $entries (i32.lt_u (local.tee $b (i32.add (local.get $b) (i32.const 1))) (i32.const 256))))
      (local.set $tables (i32.add (local.get $tables) (i32.const 1024)))
      (br_if $bytes (i32.lt_u (local.tee $query (i32.add (local.get $query) (i32.const 32))) (local.get $end)))))

  ;; out[i] = sum_j tables[j*256 + codes[i*bytes + j]] (q · sign(x_i)), for i < count; bytes is even.
  (func (export "binary_table_scores")
    (param $tables i32) (param $codes i32) (param $bytes i32) (param $count i32) (param $out i32)
    (local $end i32) (local $rowEnd i32) (local $tp i32) (local $w i32) (local $a f32) (local $b f32)
    (if (i32.eqz (local.get $count)) (then (return)))
    (local.set $end (i32.add (local.get $codes) (i32.mul (local.get $count) (local.get $bytes))))
    (loop $rows
      (local.set $a (f32.const 0))
      (local.set $b (f32.const 0))
      (local.set $tp (local.get $tables))
      (local.set $rowEnd (i32.add (local.get $codes) (local.get $bytes)))
      (loop $pairs
        (local.set $w (i32.load16_u (local.get $codes)))
        (local.set $a (f32.add (local.get $a)
          (f32.load (i32.add (local.get $tp) (i32.shl (i32.and (local.get $w) (i32.const 255)) (i32.const 2))))))
        (local.set $b (f32.add (local.get $b)
          (f32.load offset=1024 (i32.add (local.get $tp) (i32.shl (i32.shr_u (local.get $w) (i32.const 8)) (i32.const 2))))))
        (local.set $tp (i32.add (local.get $tp) (i32.const 2048)))
        (br_if $pairs (i32.lt_u (local.tee $codes (i32.add (local.get $codes) (i32.const 2))) (local.get $rowEnd))))
      (f32.store (local.get $out) (f32.add (local.get $a) (local.get $b)))
      (local.set $out (i32.add (local.get $out) (i32.const 4)))
      (br_if $rows (i32.lt_u (local.get $codes) (local.get $end)))))

  ;; Top-k selection over f32 scores (0 < k < count) by a 4096-bucket histogram between their min and max:
  ;; rows[0..above) get the rows in buckets above the one where the k-th largest falls, in row order, and
  ;; rows[above..above+ties) the rows of that bucket; returns (above, ties). The caller keeps the best k - above
  ;; of the ties. `hist` is 16 KiB of scratch. All scores equal: rows 0..k-1 as (k, 0).
  (func (export "select_top") (param $scores i32) (param $count i32) (param $k i32) (param $hist i32) (param $rows i32)
    (result i32 i32)
    (local $p i32) (local $end i32) (local $lo v128) (local $hi v128) (local $min f32) (local $max f32)
    (local $scale f32) (local $b i32) (local $cut i32) (local $above i32) (local $n i32) (local $tp i32)
    (local $min4 v128) (local $scale4 v128) (local $top4 v128) (local $b4 v128) (local $cut4 v128)
    ;; min and max: four lanes at a time, then the tail
    (local.set $lo (v128.load32_splat (local.get $scores)))
    (local.set $hi (local.get $lo))
    (local.set $p (local.get $scores))
    (local.set $end (i32.add (local.get $scores) (i32.shl (i32.and (local.get $count) (i32.const -4)) (i32.const 2))))
    (block $wide
      (br_if $wide (i32.ge_u (local.get $p) (local.get $end)))
      (loop $quads
        (local.set $lo (f32x4.min (local.get $lo) (v128.load (local.get $p))))
        (local.set $hi (f32x4.max (local.get $hi) (v128.load (local.get $p))))
        (br_if $quads (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 16))) (local.get $end)))))
    (local.set $end (i32.add (local.get $scores) (i32.shl (local.get $count) (i32.const 2))))
    (block $tail
      (br_if $tail (i32.ge_u (local.get $p) (local.get $end)))
      (loop $rest
        (local.set $lo (f32x4.min (local.get $lo) (v128.load32_splat (local.get $p))))
        (local.set $hi (f32x4.max (local.get $hi) (v128.load32_splat (local.get $p))))
        (br_if $rest (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 4))) (local.get $end)))))
    (local.set $min (f32.min (f32.min (f32x4.extract_lane 0 (local.get $lo)) (f32x4.extract_lane 1 (local.get $lo)))
                             (f32.min (f32x4.extract_lane 2 (local.get $lo)) (f32x4.extract_lane 3 (local.get $lo)))))
    (local.set $max (f32.max (f32.max (f32x4.extract_lane 0 (local.get $hi)) (f32x4.extract_lane 1 (local.get $hi)))
                             (f32.max (f32x4.extract_lane 2 (local.get $hi)) (f32x4.extract_lane 3 (local.get $hi)))))
    (if (i32.eqz (f32.gt (local.get $max) (local.get $min)))
      (then
        (local.set $n (i32.const 0))
        (loop $first
          (i32.store (i32.add (local.get $rows) (i32.shl (local.get $n) (i32.const 2))) (local.get $n))
          (br_if $first (i32.lt_u (local.tee $n (i32.add (local.get $n) (i32.const 1))) (local.get $k))))
        (return (local.get $k) (i32.const 0))))
    (local.set $scale (f32.div (f32.const 4096) (f32.sub (local.get $max) (local.get $min))))
    ;; histogram: buckets four at a time (the $buckets formula inlined: V8 does not inline wasm calls, and calls in
    ;; these loops took half the time), then the tail
    (local.set $p (local.get $hist))
    (local.set $end (i32.add (local.get $hist) (i32.const 16384)))
    (loop $zero
      (v128.store (local.get $p) (v128.const i32x4 0 0 0 0))
      (br_if $zero (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 16))) (local.get $end))))
    (local.set $min4 (f32x4.splat (local.get $min)))
    (local.set $scale4 (f32x4.splat (local.get $scale)))
    (local.set $top4 (v128.const i32x4 4095 4095 4095 4095))
    (local.set $p (i32.const 0))
    (local.set $end (i32.and (local.get $count) (i32.const -4)))
    (block $wideDone
      (br_if $wideDone (i32.eqz (local.get $end)))
      (loop $wideCount
        (local.set $b4 (i32x4.min_u (i32x4.trunc_sat_f32x4_u (f32x4.mul (f32x4.sub
          (v128.load (i32.add (local.get $scores) (i32.shl (local.get $p) (i32.const 2)))) (local.get $min4)) (local.get $scale4)))
          (local.get $top4)))
        (local.set $b (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 0 (local.get $b4)) (i32.const 2))))
        (i32.store (local.get $b) (i32.add (i32.load (local.get $b)) (i32.const 1)))
        (local.set $b (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 1 (local.get $b4)) (i32.const 2))))
        (i32.store (local.get $b) (i32.add (i32.load (local.get $b)) (i32.const 1)))
        (local.set $b (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 2 (local.get $b4)) (i32.const 2))))
        (i32.store (local.get $b) (i32.add (i32.load (local.get $b)) (i32.const 1)))
        (local.set $b (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 3 (local.get $b4)) (i32.const 2))))
        (i32.store (local.get $b) (i32.add (i32.load (local.get $b)) (i32.const 1)))
        (br_if $wideCount (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 4))) (local.get $end)))))
    (block $tailDone
      (br_if $tailDone (i32.ge_u (local.get $p) (local.get $count)))
      (loop $tailCount
        (call $bump (local.get $hist) (call $bucket (local.get $scores) (local.get $p) (local.get $min4) (local.get $scale4)))
        (br_if $tailCount (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 1))) (local.get $count)))))
    ;; the bucket of the k-th largest: walk down from the top
    (local.set $cut (i32.const 4095))
    (local.set $above (i32.const 0))
    (block $found
      (loop $down
        (local.set $n (i32.load (i32.add (local.get $hist) (i32.shl (local.get $cut) (i32.const 2)))))
        (br_if $found (i32.ge_u (i32.add (local.get $above) (local.get $n)) (local.get $k)))
        (local.set $above (i32.add (local.get $above) (local.get $n)))
        (local.set $cut (i32.sub (local.get $cut) (i32.const 1)))
        (br $down)))
    ;; collect: skip four at a time while all four lie below the cut
    (local.set $cut4 (i32x4.splat (local.get $cut)))
    (local.set $tp (i32.add (local.get $rows) (i32.shl (local.get $above) (i32.const 2))))
    (local.set $p (i32.const 0))
    (loop $collect
      (local.set $end (i32.add (local.get $p) (i32.const 4)))
      (if (i32.gt_u (local.get $end) (local.get $count))
        (then (local.set $end (local.get $count)))
        (else (if (i32.eqz (v128.any_true (i32x4.ge_u
                  (i32x4.min_u (i32x4.trunc_sat_f32x4_u (f32x4.mul (f32x4.sub
                    (v128.load (i32.add (local.get $scores) (i32.shl (local.get $p) (i32.const 2)))) (local.get $min4))
                    (local.get $scale4)))
                    (local.get $top4))
                  (local.get $cut4))))
          (then (local.set $p (local.get $end))))))
      (block $scanned
        (br_if $scanned (i32.ge_u (local.get $p) (local.get $end)))
        (loop $one
          (local.set $b (call $bucket (local.get $scores) (local.get $p) (local.get $min4) (local.get $scale4)))
          (if (i32.gt_u (local.get $b) (local.get $cut))
            (then (i32.store (local.get $rows) (local.get $p))
                  (local.set $rows (i32.add (local.get $rows) (i32.const 4))))
            (else (if (i32.eq (local.get $b) (local.get $cut))
              (then (i32.store (local.get $tp) (local.get $p))
                    (local.set $tp (i32.add (local.get $tp) (i32.const 4)))))))
          (br_if $one (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 1))) (local.get $end)))))
      (br_if $collect (i32.lt_u (local.get $p) (local.get $count))))
    (local.get $above)
    (i32.load (i32.add (local.get $hist) (i32.shl (local.get $cut) (i32.const 2)))))

;; ---- The query model's int8 matrix products (src/search/query-model.ts) ----

  ;; dst[c * rows + r] = src[r * cols + c]: an int8 matrix transposed (the query model's weights, once at load).
  (func (export "transpose_i8") (param $src i32) (param $rows i32) (param $cols i32) (param $dst i32)
    (local $r i32) (local $c i32) (local $from i32)
    (block $done
      (br_if $done (i32.or (i32.eqz (local.get $rows)) (i32.eqz (local.get $cols))))
      (loop $columns
        (local.set $from (i32.add (local.get $src) (local.get $c)))
        (local.set $r (i32.const 0))
        (loop $down
          (i32.store8 (local.get $dst) (i32.load8_u (local.get $from)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
          (local.set $from (i32.add (local.get $from) (local.get $cols)))
          (br_if $down (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $rows))))
        (br_if $columns (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 1))) (local.get $cols))))))

  ;; mm[0] = min(0, min x[i]), mm[1] = max(0, max x[i]), over i < count (a multiple of 4): the range ONNX's
  ;; DynamicQuantizeLinear quantizes x over.
  (func (export "range_f32") (param $x i32) (param $count i32) (param $mm i32)
    (local $end i32) (local $lo v128) (local $hi v128) (local $v v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (loop $each
        (local.set $v (v128.load (local.get $x)))
        (local.set $lo (f32x4.min (local.get $lo) (local.get $v)))
        (local.set $hi (f32x4.max (local.get $hi) (local.get $v)))
        (br_if $each (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 16))) (local.get $end)))))
    (f32.store (local.get $mm) (f32.min
      (f32.min (f32x4.extract_lane 0 (local.get $lo)) (f32x4.extract_lane 1 (local.get $lo)))
      (f32.min (f32x4.extract_lane 2 (local.get $lo)) (f32x4.extract_lane 3 (local.get $lo)))))
    (f32.store offset=4 (local.get $mm) (f32.max
      (f32.max (f32x4.extract_lane 0 (local.get $hi)) (f32x4.extract_lane 1 (local.get $hi)))
      (f32.max (f32x4.extract_lane 2 (local.get $hi)) (f32x4.extract_lane 3 (local.get $hi))))))

  ;; a16[i] = min(max(nearest(x[i] / scale) + zp, 0), 255) - zp, for i < count (a multiple of 8): ONNX's uint8
  ;; DynamicQuantizeLinear (division, round half to even, then the zero point, clamped), kept as int16 less the zero
  ;; point, so a product with int8 weights needs no zero point correction.
  (func (export "quantize_u8") (param $x i32) (param $count i32) (param $scale f32) (param $zp f32) (param $a16 i32)
    (local $end i32) (local $s4 v128) (local $z4 v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $s4 (f32x4.splat (local.get $scale)))
    (local.set $z4 (f32x4.splat (local.get $zp)))
    (block $done
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (loop $each
        (v128.store (local.get $a16) (i16x8.narrow_i32x4_s
          (call $quantize4 (v128.load (local.get $x)) (local.get $s4) (local.get $z4))
          (call $quantize4 (v128.load offset=16 (local.get $x)) (local.get $s4) (local.get $z4))))
        (local.set $a16 (i32.add (local.get $a16) (i32.const 16)))
        (br_if $each (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 32))) (local.get $end))))))

  (func $quantize4 (param $v v128) (param $s4 v128) (param $z4 v128) (result v128)
    (i32x4.trunc_sat_f32x4_s (f32x4.sub
      (f32x4.min (f32x4.max (f32x4.add (f32x4.nearest (f32x4.div (local.get $v) (local.get $s4))) (local.get $z4))
                            (v128.const f32x4 0 0 0 0))
                 (v128.const f32x4 255 255 255 255))
      (local.get $z4))))

  ;; out[t*n + j] = f32(sum_d a16[t*k + d] * w[j*k + d]) * (ascale * wscale[j]) + bias[j], for t < tokens (even)
  ;; and j < n (a multiple of 4): a matrix product of int16 activations (quantize_u8) with int8 weights stored
  ;; transposed (row j is output column j, k bytes; k a multiple of 8), scaled and biased as onnxruntime's
  ;; DynamicQuantizeMatMul does (the multiplier ascale * wscale[j] rounded to f32 first). The sums are exact in int32
  ;; while k * 255 * 128 < 2^31. Two tokens and four columns at once: each weight load serves both tokens.
  (func (export "qgemm")
    (param $a16 i32) (param $tokens i32) (param $k i32) (param $w i32) (param $n i32)
    (param $ascale f32) (param $wscale i32) (param $bias i32) (param $out i32)
    (local $aEnd i32) (local $ak i32) (local $j i32) (local $p i32) (local $ap i32) (local $rowEnd i32)
    (local $k2 i32) (local $k3 i32) (local $o1 i32)
    (local $x0 v128) (local $x1 v128) (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local $s00 v128) (local $s01 v128) (local $s02 v128) (local $s03 v128)
    (local $s10 v128) (local $s11 v128) (local $s12 v128) (local $s13 v128)
    (local $mult v128) (local $b v128)
    (local.set $k2 (i32.shl (local.get $k) (i32.const 1)))
    (local.set $k3 (i32.add (local.get $k2) (local.get $k)))
    (local.set $ak (i32.shl (local.get $k) (i32.const 1))) ;; bytes of one token's int16 row
    (local.set $aEnd (i32.add (local.get $a16) (i32.mul (local.get $tokens) (local.get $ak))))
    (block $tokensDone
      (br_if $tokensDone (i32.ge_u (local.get $a16) (local.get $aEnd)))
      (loop $pairs
        (local.set $o1 (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $j (i32.const 0))
        (loop $columns
          (local.set $s00 (v128.const i32x4 0 0 0 0)) (local.set $s01 (v128.const i32x4 0 0 0 0))
          (local.set $s02 (v128.const i32x4 0 0 0 0)) (local.set $s03 (v128.const i32x4 0 0 0 0))
          (local.set $s10 (v128.const i32x4 0 0 0 0)) (local.set $s11 (v128.const i32x4 0 0 0 0))
          (local.set $s12 (v128.const i32x4 0 0 0 0)) (local.set $s13 (v128.const i32x4 0 0 0 0))
          (local.set $p (i32.add (local.get $w) (i32.mul (local.get $j) (local.get $k))))
          (local.set $rowEnd (i32.add (local.get $p) (local.get $k)))
          (local.set $ap (local.get $a16))
          (loop $depth
            (local.set $w0 (v128.load8x8_s (local.get $p)))
            (local.set $w1 (v128.load8x8_s (i32.add (local.get $p) (local.get $k))))
            (local.set $w2 (v128.load8x8_s (i32.add (local.get $p) (local.get $k2))))
            (local.set $w3 (v128.load8x8_s (i32.add (local.get $p) (local.get $k3))))
            (local.set $x0 (v128.load (local.get $ap)))
            (local.set $x1 (v128.load (i32.add (local.get $ap) (local.get $ak))))
            (local.set $s00 (i32x4.add (local.get $s00) (i32x4.dot_i16x8_s (local.get $w0) (local.get $x0))))
            (local.set $s01 (i32x4.add (local.get $s01) (i32x4.dot_i16x8_s (local.get $w1) (local.get $x0))))
            (local.set $s02 (i32x4.add (local.get $s02) (i32x4.dot_i16x8_s (local.get $w2) (local.get $x0))))
            (local.set $s03 (i32x4.add (local.get $s03) (i32x4.dot_i16x8_s (local.get $w3) (local.get $x0))))
            (local.set $s10 (i32x4.add (local.get $s10) (i32x4.dot_i16x8_s (local.get $w0) (local.get $x1))))
            (local.set $s11 (i32x4.add (local.get $s11) (i32x4.dot_i16x8_s (local.get $w1) (local.get $x1))))
            (local.set $s12 (i32x4.add (local.get $s12) (i32x4.dot_i16x8_s (local.get $w2) (local.get $x1))))
            (local.set $s13 (i32x4.add (local.get $s13) (i32x4.dot_i16x8_s (local.get $w3) (local.get $x1))))
            (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
            (br_if $depth (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 8))) (local.get $rowEnd))))
          (local.set $mult (f32x4.mul (f32x4.splat (local.get $ascale))
            (v128.load (i32.add (local.get $wscale) (i32.shl (local.get $j) (i32.const 2))))))
          (local.set $b (v128.load (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2)))))
          (v128.store (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2)))
            (f32x4.add (f32x4.mul (f32x4.convert_i32x4_s
              (call $sums4 (local.get $s00) (local.get $s01) (local.get $s02) (local.get $s03))) (local.get $mult)) (local.get $b)))
          (v128.store (i32.add (local.get $o1) (i32.shl (local.get $j) (i32.const 2)))
            (f32x4.add (f32x4.mul (f32x4.convert_i32x4_s
              (call $sums4 (local.get $s10) (local.get $s11) (local.get $s12) (local.get $s13))) (local.get $mult)) (local.get $b)))
          (br_if $columns (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 4))) (local.get $n))))
        (local.set $out (i32.add (local.get $o1) (i32.shl (local.get $n) (i32.const 2))))
        (br_if $pairs (i32.lt_u (local.tee $a16 (i32.add (local.get $a16) (i32.shl (local.get $ak) (i32.const 1))))
                                (local.get $aEnd))))))

;; One attention head of the query model (its q, k and v at columns qo, qo + width and qo + 2 * width of qkv rows
  ;; 3 * width floats long; hd, the head's width, a multiple of 4). attn_scores: s[i * t + j] = q_i . k_j (f32, four
  ;; lanes, then the lanes added); the softmax is the caller's. attn_mix: out[i * width + qo + d] = sum_j a[i * t + j]
  ;; * v_j[d] (f32, j in order), the head's part of each token's output row.
  (func (export "attn_scores") (param $qkv i32) (param $t i32) (param $width i32) (param $qo i32) (param $hd i32) (param $s i32)
    (local $stride i32) (local $i i32) (local $j i32) (local $qp i32) (local $kp i32) (local $end i32) (local $acc v128)
    (local.set $stride (i32.mul (local.get $width) (i32.const 12))) ;; bytes of a qkv row
    (loop $rows
      (local.set $j (i32.const 0))
      (loop $cols
        (local.set $qp (i32.add (i32.add (local.get $qkv) (i32.mul (local.get $i) (local.get $stride))) (i32.shl (local.get $qo) (i32.const 2))))
        (local.set $kp (i32.add (i32.add (local.get $qkv) (i32.mul (local.get $j) (local.get $stride)))
                                (i32.shl (i32.add (local.get $qo) (local.get $width)) (i32.const 2))))
        (local.set $end (i32.add (local.get $qp) (i32.shl (local.get $hd) (i32.const 2))))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (loop $lanes
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (v128.load (local.get $qp)) (v128.load (local.get $kp)))))
          (local.set $kp (i32.add (local.get $kp) (i32.const 16)))
          (br_if $lanes (i32.lt_u (local.tee $qp (i32.add (local.get $qp) (i32.const 16))) (local.get $end))))
        (f32.store (local.get $s) (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
          (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (local.set $s (i32.add (local.get $s) (i32.const 4)))
        (br_if $cols (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $t))))
      (br_if $rows (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $t)))))

  (func (export "attn_mix") (param $qkv i32) (param $t i32) (param $width i32) (param $qo i32) (param $hd i32) (param $a i32) (param $out i32)
    (local $stride i32) (local $i i32) (local $j i32) (local $d i32) (local $vp i32) (local $op i32) (local $w v128)
    (local.set $stride (i32.mul (local.get $width) (i32.const 12)))
    (loop $rows
      (local.set $op (i32.add (i32.add (local.get $out) (i32.shl (i32.mul (local.get $i) (local.get $width)) (i32.const 2)))
                              (i32.shl (local.get $qo) (i32.const 2))))
      (local.set $d (i32.const 0))
      (loop $zero
        (v128.store (i32.add (local.get $op) (i32.shl (local.get $d) (i32.const 2))) (v128.const f32x4 0 0 0 0))
        (br_if $zero (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 4))) (local.get $hd))))
      (local.set $j (i32.const 0))
      (loop $tokens
        (local.set $w (v128.load32_splat (i32.add (local.get $a) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $t)) (local.get $j)) (i32.const 2)))))
        (local.set $vp (i32.add (i32.add (local.get $qkv) (i32.mul (local.get $j) (local.get $stride)))
                                (i32.shl (i32.add (local.get $qo) (i32.shl (local.get $width) (i32.const 1))) (i32.const 2))))
        (local.set $d (i32.const 0))
        (loop $lanes
          (v128.store (i32.add (local.get $op) (i32.shl (local.get $d) (i32.const 2)))
            (f32x4.add (v128.load (i32.add (local.get $op) (i32.shl (local.get $d) (i32.const 2))))
                       (f32x4.mul (local.get $w) (v128.load (i32.add (local.get $vp) (i32.shl (local.get $d) (i32.const 2)))))))
          (br_if $lanes (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 4))) (local.get $hd))))
        (br_if $tokens (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $t))))
      (br_if $rows (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $t)))))

  ;; [sum a, sum b, sum c, sum d] of four i32x4 (as int8_scores gathers its four rows).
  (func $sums4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local.set $a (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $c (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c) (local.get $d))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c) (local.get $d))))
    (i32x4.add
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $a) (local.get $c))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $a) (local.get $c))))

  ;; Histogram buckets of four scores: floor((s - min) * scale), at most 4095 (NaN: 0).
  (func $buckets (param $s v128) (param $min4 v128) (param $scale4 v128) (result v128)
    (i32x4.min_u (i32x4.trunc_sat_f32x4_u (f32x4.mul (f32x4.sub (local.get $s) (local.get $min4)) (local.get $scale4)))
                 (v128.const i32x4 4095 4095 4095 4095)))

  ;; The bucket of scores[p], computed as $buckets does.
  (func $bucket (param $scores i32) (param $p i32) (param $min4 v128) (param $scale4 v128) (result i32)
    (i32x4.extract_lane 0 (call $buckets (v128.load32_splat (i32.add (local.get $scores) (i32.shl (local.get $p) (i32.const 2))))
                                         (local.get $min4) (local.get $scale4))))

  (func $bump (param $hist i32) (param $b i32)
    (local.set $b (i32.add (local.get $hist) (i32.shl (local.get $b) (i32.const 2))))
    (i32.store (local.get $b) (i32.add (i32.load (local.get $b)) (i32.const 1))))
)
