//===- SourceDiagnostics.h - Errors at positions in a .tmix file -*- C++ -*-===//
//
// Every frontend error goes through here: `file:line:col: error: message`, the source
// line and a caret, printed by llvm::SourceMgr. Counting them tells the driver whether
// to go on.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_FRONTEND_SOURCEDIAGNOSTICS_H
#define TMIX_FRONTEND_SOURCEDIAGNOSTICS_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/SourceMgr.h"

namespace tmix {

class SourceDiagnostics {
public:
  explicit SourceDiagnostics(llvm::SourceMgr &sourceMgr) : sourceMgr(sourceMgr) {}

  void error(llvm::SMLoc loc, const llvm::Twine &message) {
    ++numErrors;
    sourceMgr.PrintMessage(loc, llvm::SourceMgr::DK_Error, message);
  }

  unsigned getNumErrors() const { return numErrors; }
  llvm::SourceMgr &getSourceMgr() { return sourceMgr; }

private:
  llvm::SourceMgr &sourceMgr;
  unsigned numErrors = 0;
};

} // namespace tmix

#endif // TMIX_FRONTEND_SOURCEDIAGNOSTICS_H
