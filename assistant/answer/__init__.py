"""The answer stage: pack ranked chunks into a numbered context, ask the model, parse and check its citations."""
