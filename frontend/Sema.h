//===- Sema.h - Semantic checks of .tmix specs ------------------*- C++ -*-===//
//
// Resolves names, infers the type of every expression (scalars, and the vectors and
// matrices of recurrences, with symbolic dims), checks each statement against DSL.md
// and annotates the AST for IRGen. Reports every error it can find in a spec.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_FRONTEND_SEMA_H
#define TMIX_FRONTEND_SEMA_H

#include "frontend/AST.h"
#include "frontend/SourceDiagnostics.h"

namespace tmix {

/// Checks `spec` and annotates it; returns false when it reported an error.
bool checkSpec(Spec &spec, SourceDiagnostics &diags);

} // namespace tmix

#endif // TMIX_FRONTEND_SEMA_H
