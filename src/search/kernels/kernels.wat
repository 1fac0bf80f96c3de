;; Scoring kernels in WebAssembly SIMD over the caller's memory (imported as env.memory, managed by arena.ts).
;; Every pointer is a byte offset into that memory; `dims` is a multiple of 16, at most 1024 (kernels.ts checks).
;; Built to kernels.wasm by scripts/build-kernels.ts (wabt); the TypeScript side is wasm-kernels.ts.
(module
  (import "env" "memory" (memory 1))

  ;; Sum of the four i32 lanes.
  (func $sum_i32x4 (param $v v128) (result i32)
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
      (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))

  ;; out[i] = qinv * scales[i] * sum_d q16[d] * vectors[i*dims + d], for i < count.
  ;; q16 is the query quantized to int16 (2*dims bytes); the int32 sum cannot overflow when dims*128*max|q16| < 2^31.
  (func (export "int8_scores")
    (param $q16 i32) (param $dims i32) (param $vectors i32) (param $scales i32) (param $count i32)
    (param $qinv f32) (param $out i32)
    (local $end i32) (local $rowEnd i32) (local $qp i32) (local $v v128) (local $acc v128)
    (if (i32.eqz (local.get $count)) (then (return)))
    (local.set $end (i32.add (local.get $vectors) (i32.mul (local.get $count) (local.get $dims))))
    (loop $rows
      (local.set $acc (v128.const i32x4 0 0 0 0))
      (local.set $qp (local.get $q16))
      (local.set $rowEnd (i32.add (local.get $vectors) (local.get $dims)))
      (loop $lanes
        (local.set $v (v128.load (local.get $vectors)))
        (local.set $acc (i32x4.add (local.get $acc)
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $v)) (v128.load (local.get $qp)))))
        (local.set $acc (i32x4.add (local.get $acc)
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $v)) (v128.load offset=16 (local.get $qp)))))
        (local.set $qp (i32.add (local.get $qp) (i32.const 32)))
        (br_if $lanes (i32.lt_u (local.tee $vectors (i32.add (local.get $vectors) (i32.const 16))) (local.get $rowEnd))))
      (f32.store (local.get $out)
        (f32.mul (f32.mul (f32.convert_i32_s (call $sum_i32x4 (local.get $acc))) (local.get $qinv))
                 (f32.load (local.get $scales))))
      (local.set $scales (i32.add (local.get $scales) (i32.const 4)))
      (local.set $out (i32.add (local.get $out) (i32.const 4)))
      (br_if $rows (i32.lt_u (local.get $vectors) (local.get $end)))))

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

  ;; Popcount of (code chunk AND plane chunk), summed over `chunkBytes` (a multiple of 16) into u8 lanes.
  (func $plane_count (param $code i32) (param $plane i32) (param $chunkBytes i32) (result v128)
    (local $acc v128) (local $end i32)
    (local.set $end (i32.add (local.get $code) (local.get $chunkBytes)))
    (loop $chunks
      (local.set $acc (i8x16.add (local.get $acc)
        (i8x16.popcnt (v128.and (v128.load (local.get $code)) (v128.load (local.get $plane))))))
      (local.set $plane (i32.add (local.get $plane) (i32.const 16)))
      (br_if $chunks (i32.lt_u (local.tee $code (i32.add (local.get $code) (i32.const 16))) (local.get $end))))
    (local.get $acc))

  ;; Bit-plane scores: out[i] = alpha * popcount(x_i & mask) + beta * sum_k 2^k popcount(x_i & plane_k) + gamma,
  ;; where x_i is the sign code of vector i (`bytes` per code, read in 16-byte chunks: up to 15 bytes past a code
  ;; are read and masked off). `planes` holds the mask plane, then `nplanes` (1..8) planes, each chunkBytes long.
  ;; Per-lane sums stay below 2^15 for chunkBytes <= 128 (1024 dims).
  (func (export "binary_plane_scores")
    (param $planes i32) (param $nplanes i32) (param $chunkBytes i32) (param $codes i32) (param $bytes i32)
    (param $count i32) (param $alpha f32) (param $beta f32) (param $gamma f32) (param $out i32)
    (local $end i32) (local $k i32) (local $pp i32) (local $tot v128) (local $ones i32)
    (if (i32.eqz (local.get $count)) (then (return)))
    (local.set $end (i32.add (local.get $codes) (i32.mul (local.get $count) (local.get $bytes))))
    (loop $rows
      (local.set $ones (call $sum_i32x4 (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u
        (call $plane_count (local.get $codes) (local.get $planes) (local.get $chunkBytes))))))
      (local.set $tot (v128.const i32x4 0 0 0 0))
      (local.set $pp (i32.add (local.get $planes) (local.get $chunkBytes)))
      (local.set $k (i32.const 0))
      (loop $bitplanes
        (local.set $tot (i16x8.add (local.get $tot)
          (i16x8.shl (i16x8.extadd_pairwise_i8x16_u
            (call $plane_count (local.get $codes) (local.get $pp) (local.get $chunkBytes))) (local.get $k))))
        (local.set $pp (i32.add (local.get $pp) (local.get $chunkBytes)))
        (br_if $bitplanes (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (local.get $nplanes))))
      (f32.store (local.get $out)
        (f32.add
          (f32.add (f32.mul (local.get $alpha) (f32.convert_i32_u (local.get $ones)))
                   (f32.mul (local.get $beta) (f32.convert_i32_u
                     (call $sum_i32x4 (i32x4.extadd_pairwise_i16x8_u (local.get $tot))))))
          (local.get $gamma)))
      (local.set $out (i32.add (local.get $out) (i32.const 4)))
      (br_if $rows (i32.lt_u (local.tee $codes (i32.add (local.get $codes) (local.get $bytes))) (local.get $end)))))
)
