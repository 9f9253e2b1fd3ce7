// All differentiable tensor ops in one include (what nn/ and user code reach for). Each op
// family has its own header with the contract (shapes, dtypes, aliasing, accumulation);
// common.h holds the dtype rules and the autocast hook.
#pragma once

#include "ops/attention.h"
#include "ops/batch_norm.h"
#include "ops/common.h"
#include "ops/conv_pool.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "ops/softmax_loss.h"
