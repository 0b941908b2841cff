//===- ErrorCollector.cpp - A pipeline's errors as one line ---------------===//

#include "codegen/ErrorCollector.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Location.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

tmix::ErrorCollector::ErrorCollector(MLIRContext *context)
    : handler(context, [this](Diagnostic &diagnostic) {
        if (diagnostic.getSeverity() != DiagnosticSeverity::Error)
          return success();
        llvm::raw_string_ostream os(errors);
        if (!errors.empty())
          os << "; ";
        if (auto loc = diagnostic.getLocation()->findInstanceOf<FileLineColLoc>())
          os << loc.getFilename().getValue() << ":" << loc.getLine() << ":"
             << loc.getColumn() << ": ";
        os << diagnostic.str();
        return success();
      }) {}
