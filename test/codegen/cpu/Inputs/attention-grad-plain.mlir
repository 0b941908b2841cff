// An attention spec for RUN lines that derive its backward in another form.
tmix.attention @a(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                  %v: !tmix.tensor<[B, H, M, 4], f32>) -> (o: !tmix.tensor<[B, H, N, 4], f32>) {
}
